/**
 * Port publishing (`-p [IP:]HOST:BOX`): a small detached process that listens on the host and,
 * per connection, starts `nsenter --net=<box namespace> nc 127.0.0.1 <port>` (the host's static
 * busybox) and splices the two. Traffic enters the box only through a published port; nothing
 * gives the box a route out. The process is started with the box and killed when the box is
 * removed; its pid and ports are kept in `<home>/box/ports/<box>.json`.
 *
 * Run as a program: `deno run -A port_forwarder.ts <netns path> <listen ip> <host port> <box port>...`
 * (ports in triples after the namespace).
 */
import { join } from "node:path";
import { A3sError, UsageError } from "@a3s/common";

/** One published port. */
export interface PublishedPort {
  /** The host address to listen on; `127.0.0.1` unless the `-p` value names one. */
  hostIp: string;
  /** The TCP port to listen on, on the host. */
  hostPort: number;
  /** The TCP port inside the box that connections are forwarded to. */
  boxPort: number;
}

/** Parses `-p` values: `8080:80`, `127.0.0.1:8080:80`, `8080:80/tcp`. */
export function parsePublish(spec: string): PublishedPort {
  const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d{1,5}):(\d{1,5})(?:\/tcp)?$/.exec(spec);
  const hostPort = Number(m?.[2]);
  const boxPort = Number(m?.[3]);
  if (!m || !(hostPort > 0 && hostPort < 65536) || !(boxPort > 0 && boxPort < 65536)) {
    throw new UsageError(`invalid --publish '${spec}': use [IP:]HOST_PORT:BOX_PORT (tcp)`);
  }
  return { hostIp: m[1] ?? "127.0.0.1", hostPort, boxPort };
}

function recordPath(home: string, boxName: string): string {
  return join(home, "box", "ports", `${boxName}.json`);
}

/** Starts the forwarder for a running box; resolves once every port listens. */
export async function publishPorts(
  home: string,
  boxName: string,
  netns: string,
  ports: readonly PublishedPort[],
): Promise<number> {
  const args = ["run", "-A", new URL(import.meta.url).pathname, netns];
  for (const p of ports) args.push(p.hostIp, String(p.hostPort), String(p.boxPort));
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  // The forwarder prints one line once it listens (or why it cannot).
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const first = await Promise.race([
    reader.read().then((r) => r.value ?? ""),
    new Promise<string>((r) => setTimeout(() => r("timeout"), 15000)),
  ]);
  reader.releaseLock();
  if (!first.startsWith("listening")) {
    try {
      Deno.kill(child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
    const error = await new Response(child.stderr).text().catch(() => "");
    throw new A3sError(
      "publish_failed",
      `cannot publish ports for ${boxName}: ${first.trim() || error.trim().split("\n").at(-1)}`,
      { status: 409, field: "publish" },
    );
  }
  child.stdout.cancel().catch(() => {});
  child.stderr.cancel().catch(() => {});
  child.unref();
  await Deno.mkdir(join(home, "box", "ports"), { recursive: true });
  await Deno.writeTextFile(recordPath(home, boxName), JSON.stringify({ pid: child.pid, ports }));
  return child.pid;
}

/** The ports published for a box (empty when none). */
export async function publishedPorts(home: string, boxName: string): Promise<PublishedPort[]> {
  try {
    return (JSON.parse(await Deno.readTextFile(recordPath(home, boxName))) as {
      ports: PublishedPort[];
    }).ports;
  } catch {
    return [];
  }
}

/** Stops a box's forwarder, if it has one. */
export async function unpublishPorts(home: string, boxName: string): Promise<void> {
  let record: { pid: number } | undefined;
  try {
    record = JSON.parse(await Deno.readTextFile(recordPath(home, boxName)));
  } catch {
    return;
  }
  try {
    Deno.kill(record!.pid, "SIGTERM");
  } catch {
    // Already gone.
  }
  await Deno.remove(recordPath(home, boxName)).catch(() => {});
}

async function pump(from: ReadableStream<Uint8Array>, to: WritableStream<Uint8Array>) {
  await from.pipeTo(to).catch(() => {});
}

function serve(
  netns: string,
  hostIp: string,
  hostPort: number,
  boxPort: number,
): { done: Promise<void> } {
  const listener = Deno.listen({ hostname: hostIp, port: hostPort });
  const done = (async () => {
    for await (const conn of listener) {
      const nc = new Deno.Command("nsenter", {
        args: [`--net=${netns}`, "busybox", "nc", "127.0.0.1", String(boxPort)],
        stdin: "piped",
        stdout: "piped",
        stderr: "null",
      }).spawn();
      Promise.all([pump(conn.readable, nc.stdin), pump(nc.stdout, conn.writable)])
        .finally(() => {
          try {
            nc.kill("SIGKILL");
          } catch {
            // It ended by itself.
          }
        });
    }
  })();
  return { done };
}

if (import.meta.main) {
  const [netns, ...rest] = Deno.args;
  try {
    const loops = [];
    for (let i = 0; i + 2 < rest.length; i += 3) {
      loops.push(serve(netns, rest[i], Number(rest[i + 1]), Number(rest[i + 2])).done);
    }
    console.log("listening");
    await Promise.all(loops);
  } catch (error) {
    console.log(`error: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
