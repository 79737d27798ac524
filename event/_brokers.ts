/**
 * Test brokers: Debian's `nats-server -js` and `redis-server`, each on a free port with a
 * temporary data dir, killed after. A missing binary prints SKIPPED and yields undefined.
 */

/** A broker process the tests control. */
export interface TestBroker {
  url: string;
  /** `kill -9`; the data dir stays. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data dir. */
  start(): Promise<void>;
  /** Kills it and removes its data dir. */
  stop(): Promise<void>;
  /** The running process's id (benchmarks read its CPU time), undefined while killed. */
  pid(): number | undefined;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function installed(binary: string): Promise<boolean> {
  try {
    const out = await new Deno.Command("which", { args: [binary], stdout: "null", stderr: "null" })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

async function accepts(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

async function launch(
  binary: string,
  args: string[],
  port: number,
  ready: (port: number) => Promise<boolean>,
): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(binary, { args, stdout: "null", stderr: "piped" }).spawn();
  const until = Date.now() + 10_000;
  while (!(await ready(port))) {
    if (Date.now() > until) {
      child.kill("SIGKILL");
      const err = new TextDecoder().decode((await child.output()).stderr).slice(-500);
      throw new Error(`${binary} did not start on port ${port}: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  // Drain stderr so the broker never blocks on a full pipe.
  child.stderr.pipeTo(new WritableStream()).catch(() => {});
  return child;
}

async function broker(
  binary: string,
  args: (port: number, dir: string) => string[],
  scheme: string,
  ready: (port: number) => Promise<boolean> = accepts,
): Promise<TestBroker | undefined> {
  if (!(await installed(binary))) {
    console.log(`SKIPPED: ${binary} is not installed`);
    return undefined;
  }
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: `a3s-${binary}-` });
  let child: Deno.ChildProcess | undefined;
  const kill = async () => {
    if (!child) return;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    child = undefined;
  };
  const start = async () => {
    child = await launch(binary, args(port, dir), port, ready);
  };
  await start();
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    kill,
    start,
    pid: () => child?.pid,
    async stop() {
      await kill();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** A JetStream-enabled nats-server. */
export function startNats(): Promise<TestBroker | undefined> {
  return broker(
    "nats-server",
    (port, dir) => ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir],
    "nats",
  );
}

/** A redis-server with every write fsynced to its append-only file. */
export function startRedis(): Promise<TestBroker | undefined> {
  return broker(
    "redis-server",
    (port, dir) => [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--appendonly",
      "yes",
      "--appendfsync",
      "always",
      "--save",
      "",
    ],
    "redis",
  );
}

/**
 * A private PostgreSQL cluster (Debian's binaries, run as the `postgres` user because initdb
 * refuses root), so a test may crash and restart it without touching the shared test server.
 * `kill` is `pg_ctl stop -m immediate`: no shutdown checkpoint, crash recovery on start.
 */
export async function startPostgres(): Promise<TestBroker | undefined> {
  const bin = await postgresBin();
  if (!bin) {
    console.log("SKIPPED: PostgreSQL server binaries are not installed");
    return undefined;
  }
  const asPostgres = Deno.uid() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
  const run = async (args: string[]) => {
    const [command, ...rest] = [...asPostgres, ...args];
    const out = await new Deno.Command(command, { args: rest, stdout: "null", stderr: "piped" })
      .output();
    if (!out.success) {
      throw new Error(`${args[0]} failed: ${new TextDecoder().decode(out.stderr).slice(-400)}`);
    }
  };
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "a3s-pg-" });
  if (Deno.uid() === 0) {
    await new Deno.Command("chown", { args: ["postgres", dir] }).output();
  }
  const data = `${dir}/data`;
  await run([`${bin}/initdb`, "-D", data, "-A", "trust", "-U", "a3s", "--no-sync"]);
  const start = () =>
    run([
      `${bin}/pg_ctl`,
      "-D",
      data,
      "-w",
      "-l",
      `${dir}/log`,
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`,
      "start",
    ]);
  const kill = () => run([`${bin}/pg_ctl`, "-D", data, "-m", "immediate", "stop"]).catch(() => {});
  await start();
  return {
    url: `postgres://a3s@127.0.0.1:${port}/postgres`,
    kill,
    start,
    // The postmaster writes its id on the first line of this file while it runs.
    pid: () => {
      try {
        return Number(Deno.readTextFileSync(`${data}/postmaster.pid`).split("\n")[0]) || undefined;
      } catch {
        return undefined;
      }
    },
    async stop() {
      await kill();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

async function postgresBin(): Promise<string | undefined> {
  try {
    const versions: string[] = [];
    for await (const entry of Deno.readDir("/usr/lib/postgresql")) versions.push(entry.name);
    versions.sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const bin = `/usr/lib/postgresql/${version}/bin`;
      if (await Deno.stat(`${bin}/pg_ctl`).then(() => true, () => false)) return bin;
    }
  } catch {
    // not installed
  }
  return undefined;
}
