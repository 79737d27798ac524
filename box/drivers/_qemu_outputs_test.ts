/**
 * A QEMU box's output ports, without a VM: each stream's port writes to its own log's pipe, the
 * devices the agent is told to write to are those ports, and they sit after the agent's ports.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { qemuOutputs } from "./_qemu_outputs.ts";
import { VM_FDS } from "./_vm_log_keeper.ts";

/** The ports in `args`: name → [nr, the fd its chardev writes to]. */
function ports(args: string[]): Map<string, [number, number]> {
  const fds = new Map<string, number>();
  const found = new Map<string, [number, number]>();
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]];
    const chardev = /^file,id=(\w+),path=\/proc\/self\/fd\/(\d+),append=on$/.exec(value);
    const port = /^virtserialport,chardev=(\w+),name=a3s\.(\w+),nr=(\d+)$/.exec(value);
    if (flag === "-chardev" && chardev) fds.set(chardev[1], Number(chardev[2]));
    else if (flag === "-device" && port && port[1] === port[2]) {
      found.set(port[2], [Number(port[3]), fds.get(port[1])!]);
    } else throw new Error(`unexpected ${flag} ${value}`);
  }
  return found;
}

const decode = (data?: Uint8Array) => new TextDecoder().decode(data);

Deno.test("qemu outputs: stdout and stderr on ports of their own, to their logs' pipes", () => {
  const box = qemuOutputs(0, false);
  assertEquals(
    ports(box.args),
    new Map([["stdout", [3, VM_FDS.stdout]], ["stderr", [4, VM_FDS.stderr]]]),
  );
  assertEquals(box.archive.map((e) => [e.path, decode(e.data)]), [
    ["a3s/output", "/dev/vport0p3\0/dev/vport0p4\0"],
  ]);
  assert(box.maxPorts > 4);
});

Deno.test("qemu outputs: a pod's VM adds its member records, after its agent ports", () => {
  const pod = qemuOutputs(5, true);
  assertEquals(
    ports(pod.args),
    new Map([
      ["stdout", [8, VM_FDS.stdout]],
      ["stderr", [9, VM_FDS.stderr]],
      ["podlogs", [10, VM_FDS.podLogs]],
    ]),
  );
  assertEquals(pod.archive.map((e) => [e.path, decode(e.data)]), [
    ["a3s/output", "/dev/vport0p8\0/dev/vport0p9\0"],
    ["a3s/podlogs", "/dev/vport0p10\0"],
  ]);
  assert(pod.maxPorts > 10);
});
