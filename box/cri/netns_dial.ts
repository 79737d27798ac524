/**
 * A TCP connection to a port inside a network namespace, for port forwarding into a pod: the
 * pod's namespace is reachable from nowhere else (by design), so the connection is made from
 * inside it, by `nsenter --net=<ns> busybox nc 127.0.0.1 <port>` (the host's static busybox),
 * the same way `box run -p` publishes ports.
 */

/** How a forwarded connection ended: `error` says why it failed, if it did. */
export interface DialResult {
  /** Why the connection could not be made or broke, from nc's own words. */
  error?: string;
}

/**
 * Connects to `port` on the namespace's loopback and splices it with `input` (the client's
 * bytes) and `output` (called with the pod's bytes) until either side ends.
 */
export async function dialInNetns(
  netns: string,
  port: number,
  input: ReadableStream<Uint8Array>,
  output: (chunk: Uint8Array) => Promise<void>,
): Promise<DialResult> {
  let nc: Deno.ChildProcess;
  try {
    nc = new Deno.Command("nsenter", {
      args: [`--net=${netns}`, "busybox", "nc", "127.0.0.1", String(port)],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    return { error: (error as Error).message };
  }
  const kill = () => {
    try {
      nc.kill("SIGKILL");
    } catch {
      // It ended by itself.
    }
  };
  // The client going away (its stream ends) ends the connection.
  const connectionEnded = new AbortController();
  input.pipeTo(nc.stdin, { signal: connectionEnded.signal }).catch(() => {}).finally(kill);
  const stderr = new Response(nc.stderr).text();
  const reader = nc.stdout.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    await output(value);
  }
  const status = await nc.status;
  connectionEnded.abort();
  const message = (await stderr).trim();
  return status.success || !message ? {} : { error: message.split("\n").at(-1) };
}
