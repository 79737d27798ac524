import { assert, assertEquals } from "@a3s/common/testing";
import { Sampler } from "./sampler.ts";

function logits(): Float32Array {
  return Float32Array.from([1, 3, 2, 0.5, -1, 2.9]);
}

Deno.test("temperature 0 picks the largest logit", () => {
  const sampler = new Sampler({ temperature: 0, repeatPenalty: 1 });
  assertEquals(sampler.pick(logits()).token, 1);
});

Deno.test("same seed gives the same draws; another seed differs somewhere", () => {
  const draw = (seed: number) => {
    const sampler = new Sampler({ temperature: 1.5, topK: 0, topP: 1, seed });
    return Array.from({ length: 50 }, () => sampler.pick(logits()).token);
  };
  assertEquals(draw(7), draw(7));
  assert(JSON.stringify(draw(7)) !== JSON.stringify(draw(8)));
});

Deno.test("top_k, top_p and min_p cut the candidates", () => {
  const seen = (options: ConstructorParameters<typeof Sampler>[0]) => {
    const sampler = new Sampler({ temperature: 1, seed: 1, ...options });
    return new Set(Array.from({ length: 300 }, () => sampler.pick(logits()).token));
  };
  assertEquals([...seen({ topK: 2, topP: 1 })].sort(), [1, 5]);
  assertEquals([...seen({ topK: 0, topP: 0.01 })], [1]);
  assertEquals([...seen({ topK: 0, topP: 1, minP: 0.3 })].sort(), [1, 2, 5]);
});

Deno.test("penalties lower the logits of seen tokens", () => {
  const l = logits();
  new Sampler({ repeatPenalty: 2, presencePenalty: 0.5, frequencyPenalty: 0.25 })
    .prepare(l, [1, 1, 4]);
  assertEquals(l[1], 3 / 2 - 0.5 - 0.5);
  assertEquals(l[4], -1 * 2 - 0.5 - 0.25);
  assertEquals(l[2], 2);
});

Deno.test("a mask restricts the pick and logprobs are normalized", () => {
  const mask = Uint8Array.from([0, 0, 1, 1, 0, 0]);
  const choice = new Sampler({ temperature: 0 }).pick(logits(), mask, 2);
  assertEquals(choice.token, 2);
  const total = choice.top!.reduce((s, t) => s + Math.exp(t.logprob), 0);
  assert(Math.abs(total - 1) < 1e-6);
  assertEquals(choice.top!.map((t) => t.token), [2, 3]);
});
