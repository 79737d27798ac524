/**
 * Test support for box: a fresh store and image store in a temp dir, the busybox image, and
 * a real local registry (Debian's `docker-registry`) on a free port.
 */
import { join } from "node:path";
import { openStore, type Store } from "@a3s/common";
import { ImageStore } from "./image/store.ts";
import { busyboxImage } from "./image/busybox.ts";
import { BoxManager } from "./manager.ts";
import { NamespaceDriver, type NamespaceDriverOptions } from "./drivers/namespace.ts";
import { QemuDriver } from "./drivers/qemu.ts";
import type { BoxDriver, BoxOutput, BoxSpec } from "./types.ts";
import { makeTestHomeDir, removeTestHome } from "./_test_home_teardown.ts";

/** Where test boxes share one built agent, so each test file does not build its own. */
export const TEST_AGENT_CACHE = "/tmp/a3s-box-test-agent";

/**
 * A temp home with a store and an image store; `close` removes everything, on the host too
 * (mounts, cgroups, network namespaces and processes of boxes a failed test left behind).
 */
export interface TestHome {
  home: string;
  store: Store;
  images: ImageStore;
  close(): Promise<void>;
}

/** Opens a temp home under /tmp (short paths keep unix socket names within their limit). */
export async function testHome(): Promise<TestHome> {
  const home = await makeTestHomeDir("a3sbox");
  const store = await openStore({ sqlitePath: join(home, "a3s.db") });
  const images = await ImageStore.open(store, join(home, "images"));
  return {
    home,
    store,
    images,
    async close() {
      await store.close();
      removeTestHome(home);
    },
  };
}

/** Removes every box of `boxes`, closes it and removes its home. */
async function closeBoxes(boxes: BoxManager, home: TestHome): Promise<void> {
  for (const box of await boxes.list({ all: true })) await boxes.remove(box.id, true);
  boxes.close();
  await home.close();
}

/**
 * A temp home and a manager on the namespace driver (`driver` adds to its options), with the
 * busybox image added.
 */
export async function openNamespaceBoxes(
  driver: Partial<NamespaceDriverOptions> = {},
): Promise<{ home: TestHome; boxes: BoxManager; driver: NamespaceDriver }> {
  const home = await testHome();
  const namespaceDriver = new NamespaceDriver({ agentCacheDir: TEST_AGENT_CACHE, ...driver });
  const boxes = await BoxManager.open({
    store: home.store,
    images: home.images,
    home: home.home,
    drivers: [namespaceDriver],
  });
  await addBusybox(home.images);
  return { home, boxes, driver: namespaceDriver };
}

/** Runs `body` with a manager on the namespace driver and the busybox image; cleans up after. */
export async function withNamespaceBoxes(
  body: (boxes: BoxManager, home: TestHome, driver: NamespaceDriver) => Promise<void>,
  driver: Partial<NamespaceDriverOptions> = {},
): Promise<void> {
  const opened = await openNamespaceBoxes(driver);
  try {
    await body(opened.boxes, opened.home, opened.driver);
  } finally {
    await closeBoxes(opened.boxes, opened.home);
  }
}

/** A manager whose drivers include a working qemu driver, for the tests that boot VMs. */
export interface QemuBoxes {
  home: TestHome;
  qemu: QemuDriver;
  boxes: BoxManager;
  /** Removes every box, closes the manager and removes the home. */
  close(): Promise<void>;
}

/**
 * Opens a manager with a qemu driver (TCG boots get two minutes) after `others`, or prints why
 * the test is skipped and returns undefined where QEMU cannot run.
 */
export async function openQemuBoxes(others: BoxDriver[] = []): Promise<QemuBoxes | undefined> {
  const home = await testHome();
  const qemu = new QemuDriver({
    agentCacheDir: TEST_AGENT_CACHE,
    workDir: join(home.home, "qemu"),
    bootTimeoutMs: 120_000,
  });
  const probe = await qemu.probe();
  if (!probe.available) {
    console.log(`SKIPPED: qemu driver unavailable: ${probe.detail}`);
    await home.close();
    return undefined;
  }
  const boxes = await BoxManager.open({
    store: home.store,
    images: home.images,
    home: home.home,
    drivers: [...others, qemu],
  });
  return { home, qemu, boxes, close: () => closeBoxes(boxes, home) };
}

/** Runs a command in a box to its end; its output as trimmed text. */
export async function execText(
  boxes: BoxManager,
  box: string,
  command: string[],
  user?: string,
): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  const process = await boxes.exec(box, { command, user });
  await process.stdin.close();
  const [stdout, stderr, status] = await Promise.all([
    new Response(process.stdout).text(),
    new Response(process.stderr).text(),
    process.status,
  ]);
  return { stdout: stdout.trim(), stderr: stderr.trim(), exitCode: status.exitCode };
}

let busyboxLayer: Promise<Awaited<ReturnType<typeof busyboxImage>>> | undefined;

/** Adds the busybox image to `images` as `busybox:latest`; returns its id. */
export async function addBusybox(images: ImageStore, tag = "busybox:latest"): Promise<string> {
  busyboxLayer ??= busyboxImage();
  const { layer, config } = await busyboxLayer;
  return await images.createImage([layer], config, [tag]);
}

/** A running local registry. */
export interface TestRegistry {
  host: string;
  close(): Promise<void>;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Starts `docker-registry` with storage in a temp dir, or returns undefined if not installed. */
export async function startRegistry(): Promise<TestRegistry | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "a3sreg" });
  const port = freePort();
  const config = join(dir, "config.yml");
  await Deno.writeTextFile(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: error",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${dir}/data`,
      "http:",
      `  addr: 127.0.0.1:${port}`,
      "",
    ].join("\n"),
  );
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("docker-registry", {
      args: ["serve", config],
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch {
    console.log("SKIPPED: docker-registry is not installed (apt-get install docker-registry)");
    await Deno.remove(dir, { recursive: true });
    return undefined;
  }
  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`http://${host}/v2/`);
      await response.body?.cancel();
      if (response.ok) break;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host,
    async close() {
      child.kill("SIGKILL");
      await child.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** A `deno run -A` child and the first line it printed. */
export interface ScriptChild {
  child: Deno.ChildProcess;
  line: string;
  /** Stops the 60 s kill timer and lets go of the child's stdout. */
  release(): Promise<void>;
}

/**
 * Runs `script` (with `args`) under `deno run -A` and waits for its first line (killed after 60 s, so a child
 * that hangs cannot hang the test): the scripts under `testdata/` print what they set up, then
 * wait to be killed.
 */
export async function spawnScript(script: URL, args: string[] = []): Promise<ScriptChild> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script.pathname, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const deadline = setTimeout(() => child.kill("SIGKILL"), 60_000);
  let printed = "";
  while (!printed.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    printed += value;
  }
  return {
    child,
    line: printed.trim(),
    release: async () => {
      clearTimeout(deadline);
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
    },
  };
}

/** A fresh box id in the manager's format (64 hex digits). */
export function randomBoxId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A driver-level spec on the test home's busybox image (no network, no volumes), with its logs
 * in its state dir: what `run` hands a driver, for tests that drive one directly.
 */
export async function busyboxSpec(
  home: TestHome,
  box: { id: string; stateDir: string; command: string[]; limits?: BoxSpec["limits"] },
): Promise<{ spec: BoxSpec; paths: Pick<BoxOutput, "stdoutPath" | "stderrPath"> }> {
  const spec: BoxSpec = {
    id: box.id,
    rootfs: await home.images.rootfs((await home.images.resolve("busybox", "image")).id),
    stateDir: box.stateDir,
    command: box.command,
    env: {},
    volumes: [],
    limits: box.limits ?? {},
    network: "none",
  };
  return {
    spec,
    paths: {
      stdoutPath: join(box.stateDir, "stdout.log"),
      stderrPath: join(box.stateDir, "stderr.log"),
    },
  };
}

/** Bytes of a box state dir's log files for one stream (FILE and its rotated FILE.N). */
export async function logStreamBytes(stateDir: string, name: string): Promise<number> {
  const rotated = new RegExp(`^${name.replace(".", "\\.")}(\\.\\d+)?$`);
  let total = 0;
  for await (const entry of Deno.readDir(stateDir)) {
    if (rotated.test(entry.name)) total += (await Deno.stat(join(stateDir, entry.name))).size;
  }
  return total;
}
