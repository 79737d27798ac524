/**
 * Test support for box: a fresh store and image store in a temp dir, the busybox image, and
 * a real local registry (Debian's `docker-registry`) on a free port.
 */
import { join } from "node:path";
import { openStore, type Store } from "@a3s/common";
import { ImageStore } from "./image/store.ts";
import { busyboxImage } from "./image/busybox.ts";

/** A temp home with a store and an image store; `close` removes everything. */
export interface TestHome {
  home: string;
  store: Store;
  images: ImageStore;
  close(): Promise<void>;
}

/** Opens a temp home under /tmp (short paths keep unix socket names within their limit). */
export async function testHome(): Promise<TestHome> {
  const home = await Deno.makeTempDir({ dir: "/tmp", prefix: "a3sbox" });
  const store = await openStore({ sqlitePath: join(home, "a3s.db") });
  const images = await ImageStore.open(store, join(home, "images"));
  return {
    home,
    store,
    images,
    async close() {
      await store.close();
      await Deno.remove(home, { recursive: true }).catch(() => {});
    },
  };
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
