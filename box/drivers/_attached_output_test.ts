/**
 * The attached output's order of work: the head (what came with the ready byte) reaches the
 * caller before any read is set up or the work after the head is done (the process is held
 * first); a caller that leaves at the head lets both pipes go.
 */
import { assert, assertEquals } from "@a3s/common/testing";
import { attachedOutput } from "./_attached_output.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** A pipe yielding `chunks`, recording whether it was cancelled. */
function pipe(chunks: string[]) {
  const state = { cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(text(chunk));
      controller.close();
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { stream, state };
}

function pipes(log: string[]) {
  const stdout = pipe(["more"]);
  const stderr = pipe(["err"]);
  return {
    stdout,
    stderr,
    pipes: {
      stdout: stdout.stream.getReader(),
      stdoutHead: text("head"),
      stderr: stderr.stream,
      ended: () => Promise.resolve(),
      hold: (held: boolean) => log.push(`hold ${held}`),
      afterHead: () => log.push("after head"),
    },
  };
}

Deno.test("attached output: held, then the head, then the work after it and the reads", async () => {
  const log: string[] = [];
  const { pipes: given } = pipes(log);
  const seen: string[] = [];
  for await (const chunk of attachedOutput(given)) {
    seen.push(`${chunk.stream}:${new TextDecoder().decode(chunk.data)}`);
    if (seen.length === 1) {
      assertEquals(log, ["hold true"], "work done before the head reached the caller");
    }
  }
  assertEquals(seen[0], "stdout:head");
  assertEquals(seen.slice(1).sort(), ["stderr:err", "stdout:more"]);
  assertEquals(log, ["hold true", "after head", "hold false"]);
});

Deno.test("attached output: a caller that leaves at the head lets both pipes go", async () => {
  const log: string[] = [];
  const { pipes: given, stdout, stderr } = pipes(log);
  for await (const chunk of attachedOutput(given)) {
    assertEquals(new TextDecoder().decode(chunk.data), "head");
    break;
  }
  // Cancelling is asynchronous; let it run.
  await new Promise((r) => setTimeout(r, 0));
  assert(stdout.state.cancelled && stderr.state.cancelled, "a pipe was kept");
  assertEquals(log, ["hold true", "after head", "hold false"]);
});
