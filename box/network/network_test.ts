/**
 * Bridged networks on real boxes: two boxes on one network reach each other by name, have no
 * route anywhere else, and everything is torn down with the boxes and the network.
 */
import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { A3sError } from "@a3s/common";
import { openNamespaceBoxes } from "../_test_support.ts";
import type { BoxManager } from "../manager.ts";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

const canRun = Deno.uid() === 0 &&
  (await new Deno.Command("bwrap", { args: ["--version"] }).output().then((o) => o.success)
    .catch(() => false)) &&
  (await new Deno.Command("ip", { args: ["netns", "list"] }).output().then((o) => o.success)
    .catch(() => false));

async function netnsList(): Promise<string> {
  const out = await new Deno.Command("ip", { args: ["netns", "list"] }).output();
  return new TextDecoder().decode(out.stdout);
}

async function sh(boxes: BoxManager, box: string, script: string) {
  const process = await boxes.exec(box, { command: ["sh", "-c", script] });
  await process.stdin.close();
  const [out, err, status] = await Promise.all([
    new Response(process.stdout).text(),
    new Response(process.stderr).text(),
    process.status,
  ]);
  return { out, err, code: status.exitCode };
}

Deno.test({
  name: "network: boxes on a bridge reach each other by name and nothing else",
  ignore: !canRun,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { home, boxes } = await openNamespaceBoxes();
    const network = await boxes.networks.create("appnet");
    try {
      const hostPort = freePort();
      await boxes.run({
        image: "busybox",
        name: "srv",
        networks: ["appnet"],
        publish: [{ hostIp: "127.0.0.1", hostPort, boxPort: 8080 }],
        command: [
          "sh",
          "-c",
          "mkdir -p /www; echo hello from srv > /www/index.html; httpd -f -p 8080 -h /www",
        ],
      });
      await boxes.run({
        image: "busybox",
        name: "client",
        networks: ["appnet"],
        command: ["sleep", "600"],
      });
      let reply = { out: "", err: "", code: -1 };
      for (let i = 0; i < 30 && reply.code !== 0; i++) {
        // nc rather than wget: Debian's static busybox wget crashes (SIGSEGV) on any URL.
        reply = await sh(
          boxes,
          "client",
          'printf "GET /index.html HTTP/1.0\\r\\n\\r\\n" | nc -w 2 srv 8080 | tail -n 1',
        );
        if (reply.code !== 0) await new Promise((r) => setTimeout(r, 100));
      }
      assertEquals(reply.out, "hello from srv\n", reply.err);
      // The published port reaches srv from the host (and only through the forwarder).
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: hostPort });
      await conn.write(new TextEncoder().encode("GET /index.html HTTP/1.0\r\n\r\n"));
      const published = await new Response(conn.readable).text();
      assert(published.endsWith("hello from srv\n"), published);
      await assertRejects(
        () =>
          boxes.run({
            image: "busybox",
            publish: [{ hostIp: "127.0.0.1", hostPort: 1, boxPort: 1 }],
            command: ["true"],
          }),
        Error,
        "needs a bridged network",
      );
      const hosts = await sh(boxes, "client", "cat /etc/hosts");
      assert(/10\.89\.\d+\.\d+\tsrv/.test(hosts.out), hosts.out);
      // The only route is the network's own subnet: no default route to the host or beyond.
      const routes = await sh(boxes, "client", "ip route");
      assertEquals(routes.out.trim().split("\n").length, 1, routes.out);
      assert(routes.out.startsWith(network.subnet), routes.out);
      // A box that is not on the network cannot reach srv.
      await boxes.run({ image: "busybox", name: "outsider", command: ["sleep", "600"] });
      const srvIp = (await boxes.networks.inspect("appnet")).members[0].ip;
      const outsider = await sh(boxes, "outsider", `echo x | nc -w 1 ${srvIp} 8080`);
      assert(outsider.code !== 0);

      await assertRejects(() => boxes.networks.remove("appnet"), A3sError, "has boxes attached");
      for (const name of ["srv", "client", "outsider"]) await boxes.remove(name, true);
      // Removing the box stops its forwarder.
      let closed = false;
      for (let i = 0; i < 40 && !closed; i++) {
        closed = await Deno.connect({ hostname: "127.0.0.1", port: hostPort })
          .then((c) => (c.close(), false), () => true);
        if (!closed) await new Promise((r) => setTimeout(r, 50));
      }
      assert(closed, "the forwarder still listens after the box was removed");
      assertEquals((await boxes.networks.inspect("appnet")).members, []);
      await boxes.networks.remove("appnet");
      assert(!(await netnsList()).includes(network.netns));
    } finally {
      for (const box of await boxes.list({ all: true })) await boxes.remove(box.id, true);
      for (const n of await boxes.networks.list()) {
        await boxes.networks.remove(n.name).catch(() => {});
      }
      boxes.close();
      await home.close();
    }
  },
});
