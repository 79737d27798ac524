/**
 * `box build`'s HEALTHCHECK, ONBUILD and `ADD <url>`: the health check lands in the image
 * config as Docker records it; a base image's ONBUILD triggers run in a real box when another
 * build starts FROM it; and ADD fetches a URL from a real local HTTP server only when the shared
 * access policy allows that address.
 */
import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { join } from "node:path";
import { AccessPolicy, ValidationError } from "@a3s/common";
import { openNamespaceBoxes } from "../_test_support.ts";
import type { ImageConfig } from "../image/oci.ts";
import { ImageBuilder } from "./builder.ts";
import { parseDockerfile } from "./dockerfile.ts";
import { parseDuration, parseHealthcheck } from "./healthcheck.ts";

Deno.test("healthcheck: options, exec and shell forms, NONE, and errors naming the line", () => {
  const [, check] = parseDockerfile(
    "FROM busybox\nHEALTHCHECK --interval=1m30s --timeout=500ms --retries=4 CMD wget -q localhost\n",
  );
  assertEquals(parseHealthcheck(check), {
    Test: ["CMD-SHELL", "wget -q localhost"],
    Interval: 90e9,
    Timeout: 500e6,
    Retries: 4,
  });
  const [, exec] = parseDockerfile('FROM busybox\nHEALTHCHECK CMD ["test", "-f", "/ok"]\n');
  assertEquals(parseHealthcheck(exec).Test, ["CMD", "test", "-f", "/ok"]);
  const [, none] = parseDockerfile("FROM busybox\nHEALTHCHECK NONE\n");
  assertEquals(parseHealthcheck(none), { Test: ["NONE"] });
  assertEquals(parseDuration("2h"), 7200e9);
  assertEquals(parseDuration("10"), undefined);
  const [, bad] = parseDockerfile("FROM busybox\n\nHEALTHCHECK --every=5s CMD true\n");
  let message = "";
  try {
    parseHealthcheck(bad);
  } catch (error) {
    message = (error as Error).message;
  }
  assertEquals(message, "Dockerfile line 3: HEALTHCHECK has no option --every");
  let chained = "";
  try {
    parseDockerfile("FROM busybox\nONBUILD ONBUILD RUN true\n");
  } catch (error) {
    chained = (error as Error).message;
  }
  assertEquals(chained, "Dockerfile line 2: ONBUILD cannot wrap ONBUILD");
});

const canBuild = Deno.uid() === 0 && (await new Deno.Command("bwrap", { args: ["--version"] })
  .output().then((o) => o.success).catch(() => false));

Deno.test({
  name: "build: HEALTHCHECK is recorded, ONBUILD triggers run downstream, ADD fetches via policy",
  ignore: !canBuild,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { home, boxes } = await openNamespaceBoxes();
    const context = join(home.home, "context");
    await Deno.mkdir(context, { recursive: true });
    await Deno.writeTextFile(join(context, "app.txt"), "from the child's context\n");
    const served = new AbortController();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: served.signal, onListen: () => {} },
      (request) =>
        new URL(request.url).pathname === "/files/tool.sh"
          ? new Response("#!/bin/sh\necho fetched\n", {
            headers: { "last-modified": "Tue, 03 Mar 2026 10:00:00 GMT" },
          })
          : new Response("no", { status: 404 }),
    );
    const base = `http://127.0.0.1:${server.addr.port}`;
    const builder = new ImageBuilder(boxes);
    const config = async (id: string) =>
      JSON.parse((await home.images.resolve(id)).config) as ImageConfig;
    try {
      const parent = await builder.build({
        contextDir: context,
        tags: ["parent:1"],
        dockerfileText: "FROM busybox\n" +
          "HEALTHCHECK --interval=5s --retries=2 CMD test -f /tmp/ok\n" +
          "ONBUILD COPY app.txt /app/app.txt\n" +
          "ONBUILD RUN echo triggered > /app/marker\n",
      });
      const parentConfig = (await config(parent.imageId)).config!;
      assertEquals(parentConfig.Healthcheck, {
        Test: ["CMD-SHELL", "test -f /tmp/ok"],
        Interval: 5e9,
        Retries: 2,
      });
      assertEquals(parentConfig.OnBuild, [
        "COPY app.txt /app/app.txt",
        "RUN echo triggered > /app/marker",
      ]);

      // The child's build runs the parent's triggers right after FROM, in its own context.
      const child = await builder.build({
        contextDir: context,
        tags: ["child:1"],
        dockerfileText: "FROM parent:1\nCMD cat /app/app.txt /app/marker\n",
      });
      const childConfig = (await config(child.imageId)).config!;
      assertEquals(childConfig.OnBuild, undefined);
      assertEquals(childConfig.Healthcheck?.Test, ["CMD-SHELL", "test -f /tmp/ok"]);
      const { info } = await boxes.run({ image: child.imageId });
      await boxes.wait(info.id);
      let out = "";
      for await (const chunk of boxes.logs(info.id)) out += new TextDecoder().decode(chunk.data);
      assertEquals(out, "from the child's context\ntriggered\n");

      // ADD <url>: refused by the default policy (a loopback address) with the line named...
      await assertRejects(
        () =>
          builder.build({
            contextDir: context,
            dockerfileText: `FROM busybox\n\nADD ${base}/files/tool.sh /usr/local/bin/\n`,
          }),
        ValidationError,
        `Dockerfile line 3: ADD ${base}/files/tool.sh:`,
      );
      // ...and fetched when the operator allows that network: mode 0600, named from the URL.
      const policy = new AccessPolicy({ privateNetworks: ["127.0.0.1/32"] });
      const fetched = await builder.build({
        contextDir: context,
        policy,
        dockerfileText: `FROM busybox\nADD ${base}/files/tool.sh /opt/\n` +
          'CMD ["sh", "-c", "stat -c %a /opt/tool.sh; sh /opt/tool.sh"]\n',
      });
      const ran = await boxes.run({ image: fetched.imageId });
      await boxes.wait(ran.info.id);
      let added = "";
      for await (const chunk of boxes.logs(ran.info.id)) {
        added += new TextDecoder().decode(chunk.data);
      }
      assertEquals(added, "600\nfetched\n");
      await assertRejects(
        () =>
          builder.build({
            contextDir: context,
            policy,
            dockerfileText: `FROM busybox\nADD ${base}/missing /x\n`,
          }),
        ValidationError,
        "the server answered 404",
      );
      await assertRejects(
        () =>
          builder.build({
            contextDir: context,
            policy,
            dockerfileText: `FROM busybox\nCOPY ${base}/files/tool.sh /x\n`,
          }),
        ValidationError,
        "only ADD fetches URLs",
      );
      assert(parent.steps.length > 0);
    } finally {
      served.abort();
      await server.finished;
      for (const box of await boxes.list({ all: true })) await boxes.remove(box.id, true);
      boxes.close();
      await home.close();
    }
  },
});
