/**
 * The qemu driver on real QEMU (TCG here): one VM boots Debian's kernel with the busybox image
 * as its initramfs; exec, copy, logs, volumes over virtio-9p (read-write and read-only), a
 * published port, no network without `--network host`, exec as a user, and a VM killed under a
 * running exec, which must end the exec with an error rather than hang. One boot keeps the test
 * bounded (each takes tens of seconds under TCG).
 */
import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { addBusybox, execText, openQemuBoxes } from "../_test_support.ts";
import { AgentClosedError } from "../agent/client.ts";
import { join } from "node:path";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

const run = execText;

Deno.test({
  name: "qemu: boot, exec, copy, volumes, a published port, no network, and a killed VM",
  async fn() {
    const vm = await openQemuBoxes();
    if (!vm) return;
    const { home, boxes } = vm;
    const shared = await Deno.makeTempDir({ dir: home.home, prefix: "shared" });
    const readOnly = await Deno.makeTempDir({ dir: home.home, prefix: "ro" });
    await Deno.writeTextFile(join(shared, "index.html"), "served from the host");
    await Deno.writeTextFile(join(readOnly, "fixed"), "read only");
    const hostPort = freePort();
    // A host server the guest must not reach: the card exists only for the published port.
    const hostServer = Deno.serve(
      { hostname: "0.0.0.0", port: 0, onListen() {} },
      () => new Response("host reached"),
    );
    try {
      await addBusybox(home.images);
      const { info } = await boxes.run({
        image: "busybox",
        command: ["sh", "-c", "echo booted $(uname -r); httpd -f -p 8080 -h /srv"],
        driver: "qemu",
        // The box's own limit must outlast the test: on a loaded 2-core machine its steps under
        // TCG took over five minutes once, and the box was stopped mid-test.
        timeoutSeconds: 900,
        volumes: [
          { host: shared, guest: "/srv", readOnly: false },
          { host: readOnly, guest: "/mnt/fixed", readOnly: true },
        ],
        publish: [{ hostIp: "127.0.0.1", hostPort, boxPort: 8080 }],
      });
      assertEquals([info.state, info.driver], ["running", "qemu"]);
      // The agent answers before its main command has printed; give the guest a moment.
      let logs = "";
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        logs = "";
        for await (const chunk of boxes.logs(info.id)) logs += new TextDecoder().decode(chunk.data);
        if (/booted \d+\.\d+/.test(logs)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert(/booted \d+\.\d+/.test(logs), logs);

      const process = await boxes.exec(info.id, {
        command: ["sh", "-c", "cat; echo e >&2; exit 6"],
      });
      const writer = process.stdin.getWriter();
      await writer.write(new TextEncoder().encode("into the vm"));
      await writer.close();
      assertEquals(await new Response(process.stdout).text(), "into the vm");
      assertEquals(await new Response(process.stderr).text(), "e\n");
      assertEquals((await process.status).exitCode, 6);

      await boxes.copyIn(info.id, new TextEncoder().encode("vm file"), "/tmp/f");
      assertEquals(new TextDecoder().decode(await boxes.copyOut(info.id, "/tmp/f")), "vm file");

      // Volumes: the host's files inside, the guest's writes on the host, read-only enforced.
      assertEquals(
        (await run(boxes, info.id, ["cat", "/srv/index.html"])).stdout,
        "served from the host",
      );
      await run(boxes, info.id, ["sh", "-c", "echo from the guest > /srv/written"]);
      assertEquals(await Deno.readTextFile(join(shared, "written")), "from the guest\n");
      assertEquals((await run(boxes, info.id, ["cat", "/mnt/fixed/fixed"])).stdout, "read only");
      const refused = await run(boxes, info.id, ["sh", "-c", "echo x > /mnt/fixed/new"]);
      assert(refused.exitCode !== 0, "a read-only volume took a write");
      // The published port reaches the guest's server, which serves the shared directory.
      let served = "";
      for (let attempt = 0; attempt < 50 && served !== "served from the host"; attempt++) {
        // QEMU accepts on the host before the guest answers: an attempt the guest never answers
        // would wait without end, so each one is bounded.
        served = await fetch(`http://127.0.0.1:${hostPort}/index.html`, {
          signal: AbortSignal.timeout(5000),
        }).then((r) => r.text()).catch(() => "");
        if (served !== "served from the host") await new Promise((r) => setTimeout(r, 200));
      }
      assertEquals(served, "served from the host");
      // `box port` lists it, though no forwarder process is involved.
      assertEquals(await boxes.ports(info.id), [{ hostIp: "127.0.0.1", hostPort, boxPort: 8080 }]);
      // ...but the guest reaches nothing: not the host, not the outside.
      // busybox nc's -w does not always end a connect whose packets the network drops (seen
      // under TCG), so a guest-side timeout bounds it.
      const outbound = await run(boxes, info.id, [
        "sh",
        "-c",
        `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout -s KILL 10 nc -w 3 10.0.2.2 ${hostServer.addr.port}`,
      ]);
      assert(!outbound.stdout.includes("host reached"), "the guest reached the host");
      // Refused or dropped by the restricted network, not a crash of the client.
      assert(
        (outbound.exitCode === 1 && outbound.stderr.includes("nc:")) || outbound.exitCode === 137,
        `${outbound.exitCode}: ${outbound.stderr}`,
      );
      // exec --user in the VM, resolved in the image's passwd.
      assertEquals((await run(boxes, info.id, ["id", "-u"], "nobody")).stdout, "65534");

      const hanging = await boxes.exec(info.id, { command: ["sleep", "300"] });
      await hanging.stdin.close();
      const pid = JSON.parse(
        await Deno.readTextFile(join(home.home, "box/boxes", info.id.slice(0, 12), "pid.json")),
      ).pid;
      const killedAt = performance.now();
      Deno.kill(pid, "SIGKILL");
      await assertRejects(() => hanging.status, AgentClosedError);
      assert(performance.now() - killedAt < 5000, "the exec ended promptly");
      const after = await boxes.wait(info.id);
      assertEquals([after.state, after.reason], ["exited", "killed"]);
    } finally {
      await hostServer.shutdown();
      await vm.close();
    }
  },
});

Deno.test({
  name: "qemu --network host: the guest reaches the host through QEMU's user-mode network",
  async fn() {
    const vm = await openQemuBoxes();
    if (!vm) return;
    const { home, boxes } = vm;
    const hostServer = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response("host reached"),
    );
    try {
      await addBusybox(home.images);
      // The main command is the check: the VM ends once it has printed what it fetched.
      const { info } = await boxes.run({
        image: "busybox",
        command: [
          "sh",
          "-c",
          `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 10.0.2.2 ${hostServer.addr.port}; cat /etc/resolv.conf`,
        ],
        driver: "qemu",
        network: "host",
        timeoutSeconds: 300,
      });
      const done = await boxes.wait(info.id);
      let logs = "";
      for await (const chunk of boxes.logs(info.id)) logs += new TextDecoder().decode(chunk.data);
      assert(logs.includes("host reached"), logs);
      assert(logs.includes("nameserver 10.0.2.3"), logs);
      assertEquals([done.exitCode, done.reason], [0, "exited"]);
    } finally {
      await hostServer.shutdown();
      await vm.close();
    }
  },
});

Deno.test({
  name: "qemu -t: the main command runs on a terminal the host can resize, logged as one stream",
  async fn() {
    const vm = await openQemuBoxes();
    if (!vm) return;
    const { home, boxes } = vm;
    const logs = async (id: string) => {
      let text = "";
      for await (const chunk of boxes.logs(id)) text += new TextDecoder().decode(chunk.data);
      return text;
    };
    try {
      await addBusybox(home.images);
      // The size is printed until the host's resize shows; stderr goes to the terminal too.
      const { info } = await boxes.run({
        image: "busybox",
        command: [
          "sh",
          "-c",
          "tty; until stty size | grep -q '40 120'; do stty size; sleep 0.2; done; " +
          "echo resized >&2",
        ],
        driver: "qemu",
        tty: true,
        timeoutSeconds: 300,
      });
      let seen = "";
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && !seen.includes("24 80")) {
        seen = await logs(info.id);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert(/\/dev\/pts\/\d+\r\n/.test(seen) && seen.includes("24 80"), seen);
      await boxes.resizeTerminal(info.id, 40, 120);
      const done = await boxes.wait(info.id);
      assertEquals([done.exitCode, done.reason], [0, "exited"]);
      assert(/resized\r\n/.test(await logs(info.id)), await logs(info.id));
    } finally {
      await vm.close();
    }
  },
});
