import { assert, assertEquals } from "@a3s/common/testing";
import { GuestMemory } from "../memory.ts";
import { type VirtioBackend, VirtioMmio } from "./virtio_mmio.ts";
import type { Virtqueue } from "./virtqueue.ts";

class RecordingBackend implements VirtioBackend {
  readonly deviceId = 3;
  readonly features = 0n;
  readonly queueCount = 1;
  readonly config = Uint8Array.of(80, 0, 25, 0);
  activated: Virtqueue[] = [];
  resets = 0;
  activate(queues: Virtqueue[]): void {
    this.activated = queues;
  }
  notify(): void {}
  reset(): void {
    this.resets++;
  }
}

function reg(device: VirtioMmio, offset: number): number {
  const data = new Uint8Array(4);
  device.mmioRead(offset, data);
  return new DataView(data.buffer).getUint32(0, true);
}
function write(device: VirtioMmio, offset: number, value: number): void {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setUint32(0, value, true);
  device.mmioWrite(offset, data);
}

function withDevice(fn: (device: VirtioMmio, backend: RecordingBackend) => void): void {
  const memory = GuestMemory.allocate(1024 * 1024);
  try {
    const backend = new RecordingBackend();
    fn(new VirtioMmio(memory, backend), backend);
  } finally {
    memory.free();
  }
}

Deno.test("virtio-mmio: identity registers and config space", () => {
  withDevice((device) => {
    assertEquals(reg(device, 0x000), 0x74726976);
    assertEquals(reg(device, 0x004), 2);
    assertEquals(reg(device, 0x008), 3);
    write(device, 0x014, 1);
    assertEquals(reg(device, 0x010), 1, "VIRTIO_F_VERSION_1 in the high word");
    const config = new Uint8Array(2);
    device.mmioRead(0x100, config);
    assertEquals([...config], [80, 0]);
  });
});

Deno.test("virtio-mmio: FEATURES_OK is refused without VERSION_1 or with unknown features", () => {
  withDevice((device) => {
    write(device, 0x070, 3);
    write(device, 0x070, 11); // no driver features: legacy driver
    assertEquals(reg(device, 0x070) & 8, 0);
    write(device, 0x024, 0);
    write(device, 0x020, 1 << 5); // a feature never offered
    write(device, 0x024, 1);
    write(device, 0x020, 1);
    write(device, 0x070, 11);
    assertEquals(reg(device, 0x070) & 8, 0);
    write(device, 0x024, 0);
    write(device, 0x020, 0);
    write(device, 0x070, 11);
    assertEquals(reg(device, 0x070) & 8, 8);
  });
});

Deno.test("virtio-mmio: a queue outside guest memory puts the device in NEEDS_RESET; reset clears it", () => {
  withDevice((device, backend) => {
    write(device, 0x030, 0);
    write(device, 0x038, 8);
    write(device, 0x080, 0x7ffffff0); // descriptor table far outside 1 MiB
    write(device, 0x090, 0x2000);
    write(device, 0x0a0, 0x3000);
    write(device, 0x044, 1);
    assertEquals(reg(device, 0x044), 0, "the queue did not become ready");
    assertEquals(reg(device, 0x070) & 0x40, 0x40);
    assert(device.lastError?.includes("descriptor table"), device.lastError);
    write(device, 0x070, 0);
    assertEquals(reg(device, 0x070), 0);
    assertEquals(backend.resets, 1);
    write(device, 0x080, 0x1000);
    write(device, 0x044, 1);
    assertEquals(reg(device, 0x044), 1);
    write(device, 0x070, 15);
    assertEquals(backend.activated.length, 1);
  });
});
