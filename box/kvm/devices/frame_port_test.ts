import { assertEquals } from "@a3s/common/testing";
import { encodeFrame, type Frame, FrameType } from "@a3s/wasm/frame";
import { enterProtectedMode } from "../boot/modes.ts";
import { Machine } from "../machine.ts";
import { kvmAvailable } from "../_test_support.ts";
import { GUESTS } from "../testdata/guests.ts";

const ignore = !kvmAvailable();

Deno.test(
  "virtio frame port: a guest driver sends a frame and echoes the host's reply through split virtqueues",
  { ignore, sanitizeOps: false, sanitizeResources: false },
  async () => {
    const machine = Machine.create({ memoryBytes: 16 * 1024 * 1024 });
    try {
      const received: Frame[] = [];
      const { port, transport } = machine.addFramePort((frame) => {
        received.push(frame);
        if (received.length === 1) {
          port.send({
            type: FrameType.Control,
            flags: 3,
            streamId: 9,
            payload: new TextEncoder().encode("x0 0"),
          });
        }
      });
      const hello = encodeFrame({
        type: FrameType.Data,
        flags: 1,
        streamId: 7,
        payload: new TextEncoder().encode("hello from the guest"),
      });
      machine.vm.memory.write(0x330000, hello);
      machine.vm.memory.writeU32(0x32fff0, hello.length);
      machine.vm.memory.write(0x100000, GUESTS.virtio);
      enterProtectedMode(machine.vm.vcpus[0], machine.vm.memory, 0x100000);
      const result = await machine.run({ timeoutMs: 10_000 });
      assertEquals(result.reason, "hlt");
      assertEquals(machine.vm.vcpus[0].getRegs().rax & 0xffffn, 0x600dn);
      assertEquals(transport.lastError, undefined);
      assertEquals(transport.status, 15);
      assertEquals(received.length, 2);
      assertEquals(received[0].type, FrameType.Data);
      assertEquals(received[0].streamId, 7);
      assertEquals(new TextDecoder().decode(received[0].payload), "hello from the guest");
      assertEquals(received[1].type, FrameType.Control);
      assertEquals(received[1].flags, 3);
      assertEquals(received[1].streamId, 9);
      assertEquals(new TextDecoder().decode(received[1].payload), "x0 0");
      assertEquals(port.active, true);
      assertEquals((result.exits.mmio ?? 0) > 20, true);
    } finally {
      machine.close();
    }
  },
);
