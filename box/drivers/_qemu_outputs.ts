/**
 * How a QEMU box's output leaves the VM: its main command's stdout and stderr, and a pod VM's
 * member records, each on a virtio-serial port of its own (after the agent's ports), whose
 * chardev writes to the pipe of that log's keeper (`_vm_log_keeper.ts`). The guest agent finds
 * the ports' devices in the box's initramfs (`/a3s/output`, `/a3s/podlogs`), so the stream a
 * byte was written on is the log it lands in.
 */
import { type CpioEntry, S_IFREG } from "./cpio.ts";
import { VM_FDS, vmFdPath } from "./_vm_log_keeper.ts";

const encoder = new TextEncoder();

/** The QEMU arguments and initramfs entries of a box's output ports. */
export interface QemuOutputs {
  /** `-chardev` / `-device` pairs, one per port. */
  args: string[];
  /** The virtio-serial device's `max_ports`: above every port number in use. */
  maxPorts: number;
  /** What tells the agent where to write: `a3s/output`, and `a3s/podlogs` for a pod's VM. */
  archive: CpioEntry[];
}

/**
 * The output ports of a VM whose agent has ports 1 (frames), 2 (status) and `extraAgentPorts`
 * more from 3; `sandbox` adds a pod's member records.
 */
export function qemuOutputs(extraAgentPorts: number, sandbox: boolean): QemuOutputs {
  const first = 3 + extraAgentPorts;
  const ports = [
    { name: "stdout", nr: first, fd: VM_FDS.stdout },
    { name: "stderr", nr: first + 1, fd: VM_FDS.stderr },
    ...(sandbox ? [{ name: "podlogs", nr: first + 2, fd: VM_FDS.podLogs }] : []),
  ];
  // The guest's name for port `nr` of the VM's only virtio-serial device.
  const device = (nr: number) => `/dev/vport0p${nr}\0`;
  const entry = (path: string, text: string): CpioEntry => ({
    path,
    mode: S_IFREG | 0o644,
    data: encoder.encode(text),
  });
  return {
    args: ports.flatMap(({ name, nr, fd }) => [
      "-chardev",
      `file,id=${name},path=${vmFdPath(fd)},append=on`,
      "-device",
      `virtserialport,chardev=${name},name=a3s.${name},nr=${nr}`,
    ]),
    maxPorts: first + 3,
    archive: [
      entry("a3s/output", device(ports[0].nr) + device(ports[1].nr)),
      ...(sandbox ? [entry("a3s/podlogs", device(ports[2].nr))] : []),
    ],
  };
}
