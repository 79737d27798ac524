/**
 * Connecting to a box's agent over its unix socket, with each failure named for what it is:
 * nothing listening means the box is not running; anything else (a full listen backlog that
 * does not drain, a path the host cannot reach, no descriptors left) says so, instead of
 * claiming that a running box is down.
 */
import { A3sError } from "@a3s/common";
import { AgentClient } from "./client.ts";

/** How long a connect waits for the agent's listen backlog to drain before it gives up. */
const BACKLOG_WAIT_MS = 10_000;

/** Whether a connect error means that no agent listens there: the box is not running. */
function nothingListening(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.ConnectionRefused;
}

/**
 * Opens a connection to the agent listening at `path`; `box` names the box in errors. A full
 * backlog (the agent busy with a burst of clients) is waited out, for up to ten seconds.
 */
export async function connectAgentSocket(path: string, box: string): Promise<AgentClient> {
  const deadline = performance.now() + BACKLOG_WAIT_MS;
  for (let pause = 1;; pause = Math.min(pause * 2, 100)) {
    try {
      return new AgentClient(await Deno.connect({ transport: "unix", path }));
    } catch (error) {
      if (nothingListening(error)) {
        throw new A3sError("box_not_running", `box ${box} is not running`, { status: 409 });
      }
      const busy = error instanceof Deno.errors.WouldBlock;
      if (busy && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, pause));
        continue;
      }
      const reason = error instanceof Error ? error.message : String(error);
      throw new A3sError(
        "agent_unavailable",
        busy
          ? `box ${box}'s agent accepted no connection within ${
            BACKLOG_WAIT_MS / 1000
          } s (${reason})`
          : `cannot connect to box ${box}'s agent at ${path}: ${reason}`,
        { status: 502, cause: error },
      );
    }
  }
}
