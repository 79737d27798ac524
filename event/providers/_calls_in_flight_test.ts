import { assert, assertEquals } from "@a3s/common/testing";
import {
  CallsInFlightTuner,
  type CallsInFlightTunerOptions,
  type TunerDecision,
  type TunerState,
} from "./_calls_in_flight.ts";

/**
 * A closed loop of publishers on a simulated pipeline: every call carries 32 events and takes
 * 32 / rate(depth) ms of pipeline time, then the next goes at once (`gapMs(depth)` later).
 * Returns the depth of each call in order.
 */
function drive(
  tuner: CallsInFlightTuner,
  clock: { now: number },
  calls: number,
  rate: (depth: number, call: number) => number,
  gapMs: (depth: number) => number = () => 0,
): number[] {
  const depths: number[] = [];
  for (let i = 0; i < calls; i++) {
    const depth = tuner.depth;
    depths.push(depth);
    clock.now += gapMs(depth);
    tuner.sent();
    clock.now += 32 / rate(depth, i);
    tuner.answered(32, true);
  }
  return depths;
}

function tunerOn(clock: { now: number }, options: CallsInFlightTunerOptions = {}) {
  return new CallsInFlightTuner(2, { now: () => clock.now, ...options });
}

const share = (depths: number[], depth: number) =>
  depths.filter((d) => d === depth).length / depths.length;

Deno.test("calls in flight: keeps two where the overlap is faster, trying one ever more rarely", () => {
  const clock = { now: 0 };
  const tuner = tunerOn(clock);
  // 20 events/ms with two calls in flight, 16 with one: 2 ms and 1.6 ms calls.
  const depths = drive(tuner, clock, 4000, (d) => (d === 2 ? 20 : 16));
  assertEquals({ depth: tuner.state.depth, hold: tuner.state.hold }, { depth: 2, hold: 64 });
  // Trials put two epochs in four (+ hold) on the other depth; with the hold at 64 that is
  // 2 in 68 epochs.
  const late = depths.slice(2000);
  assert(share(late, 1) < 0.07, `one call in flight for ${share(late, 1)} of the late calls`);
  assert(share(late, 1) > 0, "the other depth is still tried now and then");
});

Deno.test("calls in flight: takes one within two trials where the overlap loses", () => {
  const clock = { now: 0 };
  const tuner = tunerOn(clock);
  // With every core busy the second call only adds its cost: 30% fewer events per ms.
  const depths = drive(tuner, clock, 3000, (d) => (d === 2 ? 7 : 10));
  assertEquals(tuner.state.depth, 1);
  // Two trials (the second confirms the first) are eight epochs of at least 40 ms (calls of
  // 3.2–4.6 ms here: some 80 calls); the hold after them is 4 epochs of one call, then trials
  // that confirm it hold ever longer.
  assertEquals(depths.slice(90, 130).every((d) => d === 1), true);
  assert(share(depths.slice(1000), 2) < 0.07, `${share(depths.slice(1000), 2)} with two`);
});

Deno.test("calls in flight: one trial that the other depth wins by chance changes nothing", () => {
  const clock = { now: 0 };
  const tuner = tunerOn(clock);
  // Two calls in flight are faster (20 against 16 events per ms), but during the first trial's
  // epochs of one call (25 calls of two, then 50 or more of one) the machine happened to favour
  // one call: 30 events per ms.
  const depths = drive(tuner, clock, 3000, (d, call) => (d === 2 ? 20 : call < 100 ? 30 : 16));
  assertEquals(tuner.state.depth, 2);
  // The confirming trial followed at once and kept two: from then on one call in flight only in
  // trials.
  assert(share(depths.slice(300), 1) < 0.1, `${share(depths.slice(300), 1)} with one`);
});

Deno.test("calls in flight: follows the machine when it gets busy and quiet again", () => {
  const clock = { now: 0 };
  const tuner = tunerOn(clock);
  drive(tuner, clock, 2000, (d) => (d === 2 ? 20 : 16));
  assertEquals(tuner.state.depth, 2);
  // Busy: the overlap now loses. What is left of the hold (at most 64 epochs of 40 ms, with
  // calls of 6.4 ms some 400 calls) and two trials, then one call in flight but for the trials.
  const busy = drive(tuner, clock, 3000, (d) => (d === 2 ? 5 : 8));
  assertEquals(tuner.state.depth, 1);
  assert(share(busy.slice(800), 1) > 0.9, `${share(busy.slice(800), 1)} with one`);
  // Quiet again: the hold in one (at most 64 epochs, calls of 2 ms: some 1,300 calls), then two.
  const quiet = drive(tuner, clock, 5000, (d) => (d === 2 ? 20 : 16));
  assertEquals(tuner.state.depth, 2);
  assert(share(quiet.slice(2500), 2) > 0.9, `${share(quiet.slice(2500), 2)} with two`);
});

Deno.test("calls in flight: idle time is not pipeline time, short gaps between calls are", () => {
  // The same pipeline rate at both depths, but while two are allowed the application pauses
  // 200 ms between calls: idle, so it must not count against two (which stays, ties keep it).
  const clock = { now: 0 };
  const tuner = tunerOn(clock);
  drive(tuner, clock, 600, () => 16, (d) => (d === 2 ? 200 : 0));
  assertEquals(tuner.state.depth, 2);
  // A short gap is the publishers' own work between two calls: it counts, so a depth whose
  // calls leave 1 ms of client work between them loses to one that leaves none.
  const other = { now: 0 };
  const second = tunerOn(other);
  drive(second, other, 600, () => 16, (d) => (d === 2 ? 1 : 0));
  assertEquals(second.state.depth, 1);
});

Deno.test("calls in flight: a learned choice seeds the next tuner; one call allowed is no choice", () => {
  const clock = { now: 0 };
  const seeded = tunerOn(clock, { start: { depth: 1, hold: 16 } });
  assertEquals(seeded.depth, 1);
  // Held for 16 epochs before the first trial, even where two would be faster.
  const depths = drive(seeded, clock, 150, (d) => (d === 2 ? 20 : 16));
  assertEquals(depths.slice(0, 100).every((d) => d === 1), true);
  const single = new CallsInFlightTuner(1, { now: () => clock.now });
  assertEquals(new Set(drive(single, clock, 500, () => 10)), new Set([1]));
  assertEquals(single.state, { depth: 1, hold: 4, holdLeft: 0 });
});

Deno.test("calls in flight: tells each trial's rates and the depth it keeps", () => {
  const clock = { now: 0 };
  const decisions: TunerDecision[] = [];
  const tuner = tunerOn(clock, { onDecision: (d) => decisions.push(d) });
  // One call in flight is twice as fast: the first trial challenges, the second switches.
  drive(tuner, clock, 2000, (d) => (d === 1 ? 32 : 16));
  assert(decisions.length >= 3, `${decisions.length} decisions`);
  const [challenge, switched] = decisions;
  assertEquals({ held: challenge.held, tried: challenge.tried, winner: challenge.winner }, {
    held: 2,
    tried: 1,
    winner: 2,
  });
  assertEquals(challenge.hold, 0);
  assert(Math.abs(challenge.triedRate - 32) < 1e-9 && Math.abs(challenge.heldRate - 16) < 1e-9);
  assertEquals({ held: switched.held, winner: switched.winner, hold: switched.hold }, {
    held: 2,
    winner: 1,
    hold: 4,
  });
  // Later trials confirm one and double its hold.
  assertEquals(decisions[2].winner, 1);
  assertEquals(decisions[2].hold, 8);
  assertEquals(tuner.state.depth, 1);
  assertEquals(tuner.state.hold, decisions.at(-1)!.hold);
});

Deno.test("calls in flight: short-lived tuners on one server go on with one schedule", () => {
  // Providers that live some 10 epochs each (a bench round, a bus per request), each seeded
  // with the last one's state, where two calls are faster: trials get rarer across them, as in
  // one long-lived tuner. Seeded with the whole hold again, each life shorter than the hold
  // plus a trial would open a trial it never finishes: a share of every life at the slower depth.
  const clock = { now: 0 };
  let state: TunerState | undefined;
  const depths: number[] = [];
  let trials = 0;
  for (let life = 0; life < 80; life++) {
    const tuner = tunerOn(clock, { start: state, onDecision: () => trials++ });
    // 20 events/ms at two (1.6 ms a call), 16 at one: 10 epochs of 40 ms are some 250 calls.
    depths.push(...drive(tuner, clock, 250, (d) => (d === 2 ? 20 : 16)));
    state = tuner.state;
  }
  assertEquals(state?.depth, 2);
  assertEquals(state?.hold, 64);
  // 800 epochs, a trial after each hold (4, 8, ... then 64): still trying, ever more rarely.
  assert(trials >= 8 && trials <= 18, `${trials} trials`);
  const late = share(depths.slice(depths.length / 2), 1);
  assert(late < 0.05, `one call in flight ${(late * 100).toFixed(1)}% of the later calls`);
});

Deno.test("calls in flight: a seeded hold is clamped, and a due trial starts at once", () => {
  const clock = { now: 0 };
  const clamped = tunerOn(clock, { start: { depth: 1, hold: 16, holdLeft: 1000 } });
  assertEquals(clamped.state, { depth: 1, hold: 16, holdLeft: 16 });
  const due = tunerOn(clock, { start: { depth: 1, hold: 16, holdLeft: 0 } });
  // The trial runs at once: its second epoch is already the other depth.
  const depths = drive(due, clock, 60, () => 16);
  assert(depths.includes(2), "no trial of two calls in the first epochs");
});
