import { assert, assertEquals, assertThrows } from "@a3s/common/testing";
import { GuestMemory } from "../memory.ts";
import { MAX_CHAIN_BYTES, readChain, Virtqueue, VirtqueueError, writeChain } from "./virtqueue.ts";

const MEMORY = 1024 * 1024;
const LAYOUT = { size: 8, desc: 0x1000n, avail: 0x2000n, used: 0x3000n };

function descriptor(
  memory: GuestMemory,
  index: number,
  address: bigint,
  length: number,
  flags: number,
  next: number,
): void {
  const at = LAYOUT.desc + BigInt(index * 16);
  memory.writeU64(at, address);
  memory.writeU32(at + 8n, length);
  memory.writeU16(at + 12n, flags);
  memory.writeU16(at + 14n, next);
}

function offer(memory: GuestMemory, heads: number[]): void {
  heads.forEach((head, i) => memory.writeU16(LAYOUT.avail + 4n + BigInt(2 * i), head));
  memory.writeU16(LAYOUT.avail + 2n, heads.length);
}

function withMemory(fn: (memory: GuestMemory) => void): void {
  const memory = GuestMemory.allocate(MEMORY);
  try {
    fn(memory);
  } finally {
    memory.free();
  }
}

Deno.test("virtqueue: a valid chain is read, written and returned on the used ring", () => {
  withMemory((memory) => {
    memory.write(0x10000, new TextEncoder().encode("ping"));
    descriptor(memory, 0, 0x10000n, 4, 1, 1);
    descriptor(memory, 1, 0x11000n, 16, 2, 0);
    offer(memory, [0]);
    const queue = new Virtqueue(memory, LAYOUT);
    const chain = queue.pop()!;
    assertEquals(new TextDecoder().decode(readChain(chain)), "ping");
    assertEquals(chain.writableBytes, 16);
    assertEquals(writeChain(chain, new TextEncoder().encode("pong")), 4);
    queue.push(chain.head, 4);
    assertEquals(new TextDecoder().decode(memory.read(0x11000, 4)), "pong");
    assertEquals(memory.readU16(LAYOUT.used + 2n), 1);
    assertEquals(memory.readU32(LAYOUT.used + 4n), 0);
    assertEquals(memory.readU32(LAYOUT.used + 8n), 4);
    assertEquals(queue.pop(), undefined);
  });
});

Deno.test("virtqueue: malformed chains and layouts are refused", () => {
  const cases: Array<[string, (memory: GuestMemory) => void, string]> = [
    ["loop", (m) => {
      descriptor(m, 0, 0x10000n, 4, 1, 1);
      descriptor(m, 1, 0x10000n, 4, 1, 0);
      offer(m, [0]);
    }, "loops"],
    ["self loop", (m) => {
      descriptor(m, 3, 0x10000n, 4, 1, 3);
      offer(m, [3]);
    }, "loops"],
    ["address past the end", (m) => {
      descriptor(m, 0, BigInt(MEMORY - 2), 4, 0, 0);
      offer(m, [0]);
    }, "outside guest memory"],
    ["address wrapping 2^64", (m) => {
      descriptor(m, 0, 0xfffffffffffffff0n, 0x20, 0, 0);
      offer(m, [0]);
    }, "outside guest memory"],
    ["huge length", (m) => {
      descriptor(m, 0, 0x10000n, 0xffffffff, 2, 0);
      offer(m, [0]);
    }, "more than"],
    ["head outside the queue", (m) => offer(m, [9]), "outside the queue"],
    ["next outside the queue", (m) => {
      descriptor(m, 0, 0x10000n, 4, 1, 200);
      offer(m, [0]);
    }, "outside the queue"],
    ["indirect", (m) => {
      descriptor(m, 0, 0x10000n, 16, 4, 0);
      offer(m, [0]);
    }, "indirect"],
    ["readable after writable", (m) => {
      descriptor(m, 0, 0x10000n, 4, 3, 1);
      descriptor(m, 1, 0x10000n, 4, 0, 0);
      offer(m, [0]);
    }, "follows"],
    ["available index far ahead", (m) => m.writeU16(LAYOUT.avail + 2n, 500), "ahead"],
  ];
  for (const [name, setup, message] of cases) {
    withMemory((memory) => {
      setup(memory);
      const queue = new Virtqueue(memory, LAYOUT);
      const error = assertThrows(() => queue.pop(), VirtqueueError);
      assert(error.message.includes(message), `${name}: ${error.message}`);
      assertEquals(memory.readU16(LAYOUT.used + 2n), 0, `${name}: nothing was returned`);
    });
  }
  withMemory((memory) => {
    assertThrows(() => new Virtqueue(memory, { ...LAYOUT, size: 6 }), VirtqueueError, "power");
    assertThrows(() => new Virtqueue(memory, { ...LAYOUT, size: 512 }), VirtqueueError);
    assertThrows(() => new Virtqueue(memory, { ...LAYOUT, desc: 0x1008n }), VirtqueueError);
    assertThrows(
      () => new Virtqueue(memory, { ...LAYOUT, used: BigInt(MEMORY - 8) }),
      VirtqueueError,
      "used ring",
    );
    assertThrows(
      () => new Virtqueue(memory, { ...LAYOUT, desc: 1n << 63n }),
      VirtqueueError,
      "descriptor table",
    );
  });
});

/** xorshift32: a fixed seed keeps the fuzz run reproducible. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

Deno.test("virtqueue fuzz: random descriptor tables never escape guest memory", () => {
  const next = random(0x5eed);
  const pick = <T>(values: T[]) => values[next() % values.length];
  withMemory((memory) => {
    let accepted = 0;
    let refused = 0;
    for (let round = 0; round < 3000; round++) {
      memory.range(0, 0x4000).fill(0);
      const size = pick([1, 2, 4, 8, 16]);
      for (let i = 0; i < size; i++) {
        const address = pick([
          BigInt(next() % MEMORY),
          BigInt(MEMORY - (next() % 64)),
          0xffffffffffffff00n + BigInt(next() % 256),
          BigInt(next()) << 20n,
          0x10000n,
        ]);
        const length = pick([next() % 4096, 0xffffffff, MAX_CHAIN_BYTES, next() % 64, 0]);
        descriptor(memory, i, address, length, next() % 8, next() % (size + 3));
      }
      const heads = Array.from({ length: next() % (size + 1) }, () => next() % (size + 2));
      heads.forEach((head, i) => memory.writeU16(LAYOUT.avail + 4n + BigInt(2 * i), head));
      memory.writeU16(LAYOUT.avail + 2n, next() % 4 === 0 ? next() & 0xffff : heads.length);
      const queue = new Virtqueue(memory, { ...LAYOUT, size });
      try {
        for (let taken = 0; taken < size * 2; taken++) {
          const chain = queue.pop();
          if (!chain) break;
          for (const buffer of [...chain.readable, ...chain.writable]) {
            assert(buffer.byteOffset + buffer.byteLength <= memory.size, "buffer inside RAM");
          }
          assert(chain.readableBytes + chain.writableBytes <= MAX_CHAIN_BYTES);
          queue.push(chain.head, 0);
          accepted++;
        }
      } catch (error) {
        if (!(error instanceof VirtqueueError)) throw error;
        refused++;
      }
    }
    assert(accepted > 100, `some chains were valid (${accepted})`);
    assert(refused > 100, `many were refused (${refused})`);
  });
});
