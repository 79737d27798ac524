/**
 * `box build` against `buildah bud` on the same small multi-stage Dockerfile, cold (no build
 * cache) and warm (everything cached), in one run. Both start with the base image already local:
 * box has busybox in its store, buildah pulls it from a local `docker-registry` before timing.
 *
 * Run: `deno run -A box/bench/build_bench.ts [rounds]` (root, bubblewrap, docker-registry;
 * buildah optional).
 */
import { join } from "node:path";
import { addBusybox, startRegistry, testHome } from "../_test_support.ts";
import { BoxManager } from "../manager.ts";
import { NamespaceDriver } from "../drivers/namespace.ts";
import { RegistryClient } from "../image/registry.ts";
import { ImageBuilder } from "../builder/builder.ts";

const rounds = Number(Deno.args[0] ?? 3);

function dockerfile(base: string): string {
  return [
    `FROM ${base} AS builder`,
    "WORKDIR /src",
    "COPY app.txt .",
    "RUN tr a-z A-Z < app.txt > /out.txt && echo built >> /out.txt",
    `FROM ${base}`,
    "COPY --from=builder /out.txt /app/out.txt",
    "ENV MODE=prod",
    'CMD ["cat", "/app/out.txt"]',
    "",
  ].join("\n");
}

async function buildah(args: string[]): Promise<{ ok: boolean; error: string }> {
  try {
    const out = await new Deno.Command("buildah", { args, stdout: "null", stderr: "piped" })
      .output();
    return { ok: out.success, error: new TextDecoder().decode(out.stderr).trim().slice(-300) };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const home = await testHome();
const registry = await startRegistry();
const boxes = await BoxManager.open({
  store: home.store,
  images: home.images,
  home: home.home,
  drivers: [new NamespaceDriver({ agentCacheDir: "/tmp/a3s-box-test-agent" })],
});
try {
  await addBusybox(home.images);
  let base = "busybox:latest";
  if (registry) {
    base = `${registry.host}/library/busybox:latest`;
    await new RegistryClient(home.images).push("busybox:latest", base);
    await home.images.tag("busybox:latest", base);
  }
  const context = join(home.home, "context");
  await Deno.mkdir(context);
  await Deno.writeTextFile(join(context, "app.txt"), "hello from the bench\n");
  await Deno.writeTextFile(join(context, "Dockerfile"), dockerfile(base));
  const builder = new ImageBuilder(boxes);
  const results: Record<string, number[]> = { "box cold": [], "box warm": [] };
  for (let i = 0; i < rounds; i++) {
    let t = performance.now();
    await builder.build({ contextDir: context, tags: ["bench:1"], noCache: true });
    results["box cold"].push(performance.now() - t);
    t = performance.now();
    await builder.build({ contextDir: context, tags: ["bench:1"] });
    results["box warm"].push(performance.now() - t);
  }
  let buildahNote = "";
  if (!registry) buildahNote = "docker-registry is not installed, so buildah has no base image";
  else {
    const root = join(home.home, "buildah");
    const common = [
      "--root",
      join(root, "root"),
      "--runroot",
      join(root, "run"),
      "--storage-driver",
      "vfs",
    ];
    const pulled = await buildah([...common, "pull", "--tls-verify=false", base]);
    if (!pulled.ok) buildahNote = `buildah cannot run here: ${pulled.error}`;
    else {
      results["buildah cold"] = [];
      results["buildah warm"] = [];
      for (let i = 0; i < rounds; i++) {
        const bud = (extra: string[]) =>
          buildah([
            ...common,
            "bud",
            "--isolation",
            "chroot",
            "--tls-verify=false",
            "--layers",
            ...extra,
            "-t",
            "bench:1",
            context,
          ]);
        let t = performance.now();
        const cold = await bud(["--no-cache"]);
        results["buildah cold"].push(performance.now() - t);
        t = performance.now();
        const warm = await bud([]);
        results["buildah warm"].push(performance.now() - t);
        if (!cold.ok || !warm.ok) {
          buildahNote = `buildah bud failed: ${cold.error || warm.error}`;
          delete results["buildah cold"];
          delete results["buildah warm"];
          break;
        }
      }
    }
  }
  console.log(`rounds: ${rounds} (median, min in ms)`);
  for (const [name, values] of Object.entries(results)) {
    console.log(
      `${name.padEnd(14)} ${median(values).toFixed(0).padStart(7)} ${
        Math.min(...values).toFixed(0).padStart(7)
      }`,
    );
  }
  if (buildahNote) console.log(buildahNote);
} finally {
  for (const box of await boxes.list({ all: true })) await boxes.remove(box.id, true);
  boxes.close();
  await registry?.close();
  await home.close();
}
