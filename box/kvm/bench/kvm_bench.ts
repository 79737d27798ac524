/**
 * VMM benchmarks: the vCPU exit round trip (a port write exits to JS and the guest resumes),
 * the time from VM creation to the first guest instruction (the first exit), and to the first
 * UART byte of a test guest.
 *
 *   deno bench -A box/kvm/bench/kvm_bench.ts
 */
import { enterLongMode, enterRealMode } from "../boot/modes.ts";
import { Machine } from "../machine.ts";
import { GUESTS } from "../testdata/guests.ts";

const MiB = 1024 * 1024;
const EXITS = 2000;

Deno.bench({
  name: `exit round trip: ${EXITS} port-I/O exits to JS and back`,
  n: 20,
  async fn(b) {
    const machine = Machine.create({ memoryBytes: 16 * MiB });
    let count = 0;
    machine.vm.bus.addPio(0x512, 1, { ioRead: () => 0, ioWrite: () => count++ });
    machine.vm.memory.write(0x200000, GUESTS.exits);
    enterLongMode(machine.vm.vcpus[0], machine.vm.memory, 0x200000);
    const regs = machine.vm.vcpus[0].getRegs();
    regs.rcx = BigInt(EXITS);
    machine.vm.vcpus[0].setRegs(regs);
    // The runner thread starts on the first entry; count from the first exit on.
    machine.vm.memory.write(0x1000, Uint8Array.of(0xf4));
    b.start();
    await machine.run({ timeoutMs: 60_000 });
    b.end();
    machine.close();
    if (count !== EXITS) throw new Error(`saw ${count} exits`);
  },
});

Deno.bench({
  name: "VM creation to the first guest instruction (first exit)",
  n: 20,
  async fn() {
    const machine = Machine.create({ memoryBytes: 16 * MiB });
    machine.vm.memory.write(0x1000, Uint8Array.of(0xf4)); // hlt
    enterRealMode(machine.vm.vcpus[0], 0x1000);
    await machine.run({ timeoutMs: 10_000 });
    machine.close();
  },
});

Deno.bench({
  name: "VM creation to the first UART byte of a test guest",
  n: 20,
  async fn() {
    const machine = Machine.create({ memoryBytes: 16 * MiB });
    machine.vm.memory.write(0x200000, GUESTS.long);
    enterLongMode(machine.vm.vcpus[0], machine.vm.memory, 0x200000);
    await machine.run({ timeoutMs: 10_000 });
    if (!machine.consoleText.startsWith("long")) throw new Error("no console output");
    machine.close();
  },
});
