/**
 * `compose up` with two real services, one built from a Dockerfile, that talk by service name;
 * `ps` and `down`; and Compose file errors that name the key.
 */
import { assert, assertEquals, assertThrows } from "@a3s/common/testing";
import { join } from "node:path";
import { ValidationError } from "@a3s/common";
import { openNamespaceBoxes } from "../_test_support.ts";
import { parseComposeFile } from "./compose_file.ts";
import { composeDown, composePs, composeUp } from "./compose.ts";

const COMPOSE = `
name: shop
services:
  client:
    image: busybox
    command: ["sleep", "600"]
    environment:
      TARGET: web
    depends_on: [web]
  web:
    build: ./web
    volumes:
      - data:/data
volumes:
  data:
`;

const canRun = Deno.uid() === 0 &&
  (await new Deno.Command("bwrap", { args: ["--version"] }).output().then((o) => o.success)
    .catch(() => false)) &&
  (await new Deno.Command("ip", { args: ["netns", "list"] }).output().then((o) => o.success)
    .catch(() => false));

Deno.test({
  name: "compose: up starts two services that talk by name; ps; down cleans up",
  ignore: !canRun,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { home, boxes } = await openNamespaceBoxes();
    const dir = join(home.home, "shop");
    await Deno.mkdir(join(dir, "web"), { recursive: true });
    await Deno.writeTextFile(
      join(dir, "web", "Dockerfile"),
      'FROM busybox\nRUN mkdir /www && echo "hello from web" > /www/index.html\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n',
    );
    const project = parseComposeFile(COMPOSE, "ignored");
    assertEquals(project.services.map((s) => s.name), ["web", "client"]);
    try {
      await composeUp(boxes, project, dir);
      const running = await composePs(boxes, project);
      assertEquals(running.map((b) => [b.name, b.state]), [
        ["shop-web-1", "running"],
        ["shop-client-1", "running"],
      ]);
      let reply = "";
      for (let i = 0; i < 30 && !reply.includes("hello"); i++) {
        const process = await boxes.exec("shop-client-1", {
          command: ["sh", "-c", 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 2 $TARGET 8080'],
        });
        await process.stdin.close();
        reply = await new Response(process.stdout).text();
        await process.status;
        if (!reply.includes("hello")) await new Promise((r) => setTimeout(r, 100));
      }
      assert(reply.endsWith("hello from web\n"), reply);
      assert((await boxes.volumes.list()).some((v) => v.name === "shop_data"));

      // A second up leaves running services alone.
      const again = await composeUp(boxes, project, dir);
      assertEquals(again.map((b) => b.id), running.map((b) => b.id));

      await composeDown(boxes, project, { volumes: true });
      assertEquals(await composePs(boxes, project), []);
      assertEquals(await boxes.networks.list(), []);
      assertEquals(await boxes.volumes.list(), []);
    } finally {
      await composeDown(boxes, project, { volumes: true }).catch(() => {});
      for (const box of await boxes.list({ all: true })) await boxes.remove(box.id, true);
      boxes.close();
      await home.close();
    }
  },
});

Deno.test("compose file: errors name the key", () => {
  const error = (text: string) =>
    assertThrows(() => parseComposeFile(text, "p"), ValidationError).message;
  assertEquals(
    error("services:\n  web:\n    image: busybox\n    privileged: true\n"),
    "compose file: services.web.privileged: not supported",
  );
  assertEquals(
    error("services:\n  web:\n    command: ls\n"),
    "compose file: services.web: needs image or build",
  );
  assert(
    error("services:\n  web:\n    image: 3\n").startsWith("compose file: services.web.image:"),
  );
  assertEquals(
    error(
      "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n",
    ),
    "compose file: services.b.depends_on: dependency cycle through 'a'",
  );
  assertEquals(
    error("services:\n  a:\n    image: x\n    networks: [back]\n"),
    "compose file: services.a.networks: network 'back' is not declared",
  );
  assertEquals(
    error("services:\n  a:\n    image: x\n    ports: ['80:http']\n"),
    "compose file: services.a.ports.0: expected HOST:BOX, got '80:http'",
  );
});
