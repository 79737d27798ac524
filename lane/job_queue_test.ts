import { assertEquals } from "@a3s/common/testing";
import { JobQueue } from "./job_queue.ts";

Deno.test("property: the queue yields priority order, FIFO within a priority, under interleaving", () => {
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let round = 0; round < 50; round++) {
    const queue = new JobQueue<{ priority: number; seq: number }>();
    const model: { priority: number; seq: number }[] = [];
    let seq = 0;
    for (let step = 0; step < 500; step++) {
      if (rand() < 0.6 || model.length === 0) {
        const job = { priority: rand() < 0.5 ? 0 : Math.floor(rand() * 5) - 2, seq: ++seq };
        queue.push(job);
        model.push(job);
      } else {
        model.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
        assertEquals(queue.peek(), model[0]);
        assertEquals(queue.shift(), model.shift());
      }
      assertEquals(queue.size, model.length);
    }
  }
});

Deno.test("a job put back after waiting keeps its place ahead of later ones", () => {
  const queue = new JobQueue<{ priority: number; seq: number }>();
  const first = { priority: 0, seq: 1 };
  queue.push(first);
  queue.push({ priority: 0, seq: 2 });
  queue.shift();
  queue.push({ priority: 0, seq: 3 });
  queue.push(first);
  assertEquals([queue.shift()?.seq, queue.shift()?.seq, queue.shift()?.seq], [1, 2, 3]);
  const removable = { priority: 1, seq: 9 };
  queue.push(removable);
  assertEquals(queue.remove(removable), true);
  assertEquals(queue.remove(removable), false);
  assertEquals(queue.size, 0);
});
