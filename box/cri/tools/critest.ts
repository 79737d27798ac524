/**
 * Runs the Kubernetes CRI conformance suite (`critest`, from cri-tools) against `box cri` and
 * prints which cases pass. critest pulls its images, and this machine has no internet, so a local
 * `docker-registry` is box's registry mirror for `registry.k8s.io` and `gcr.io` (box cri's
 * `--registry-mirror`, as containerd's mirrors), and every image goes through `PullImage`:
 * - the images an operator may choose (`--test-images-file`): busybox as the default container
 *   image, and as the web server a busybox built by `box build` to serve HTTP on port 80;
 * - the Image Manager cases' images, built by `box build` from the recipes in cri-tools'
 *   `images/` (a file added to busybox; a `USER`; a group defined in the image).
 * What cannot be made here fails, and is reported as it is: the image pinned by a digest of the
 * real registry, and Apache httpd for the multi-container cases.
 *
 *   deno run -A box/cri/tools/critest.ts CRITEST_BINARY [GINKGO_FOCUS] [RUNTIME_HANDLER]
 *
 * RUNTIME_HANDLER `qemu` runs every pod of the suite as a VM with its containers inside.
 *
 * CRITEST_BINARY is critest from a cri-tools release (not in Debian). Needs root, bubblewrap,
 * ip netns and docker-registry, like box's other CRI tests.
 */
import { join } from "node:path";
import { AccessPolicy } from "@a3s/common";
import { addBusybox, startRegistry, testHome } from "../../_test_support.ts";
import { BoxManager } from "../../manager.ts";
import { NamespaceDriver } from "../../drivers/namespace.ts";
import { QemuDriver } from "../../drivers/qemu.ts";
import { RegistryClient } from "../../image/registry.ts";
import { ImageBuilder } from "../../builder/builder.ts";
import { CriRuntime, POD_NETWORK } from "../cri_runtime.ts";
import { serveCri } from "../server.ts";

const [critest, focus = "\\[Conformance\\]", handler = ""] = Deno.args;
if (!critest) {
  console.error("usage: critest.ts CRITEST_BINARY [GINKGO_FOCUS] [RUNTIME_HANDLER]");
  Deno.exit(2);
}

interface Case {
  name: string;
  outcome: "passed" | "failed" | "skipped";
  reason: string;
}

/** Reads ginkgo's JUnit report: one `<testcase>` per spec, with `<failure>` or `<skipped>`. */
function readJunit(xml: string): Case[] {
  const cases: Case[] = [];
  for (const m of xml.matchAll(/<testcase name="([^"]*)"[^>]*?(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const name = m[1].replaceAll("&#34;", '"').replaceAll("&amp;", "&").replaceAll("&#39;", "'");
    if (/^\[(BeforeSuite|AfterSuite|SynchronizedBeforeSuite|SynchronizedAfterSuite)\]/.test(name)) {
      continue;
    }
    const body = m[2] ?? "";
    const failure = /<failure message="([^"]*)"/.exec(body);
    const outcome = failure ? "failed" : /<skipped/.test(body) ? "skipped" : "passed";
    cases.push({
      name: name.replace(/^\[It\]\s*/, ""),
      outcome,
      reason: failure?.[1].replaceAll("&#xA;", " ").replaceAll("&#34;", '"').slice(0, 160) ?? "",
    });
  }
  return cases;
}

const home = await testHome();
const registry = await startRegistry();
if (!registry) Deno.exit(1);
const boxes = await BoxManager.open({
  store: home.store,
  images: home.images,
  home: home.home,
  drivers: [
    new NamespaceDriver({ agentCacheDir: "/tmp/a3s-box-test-agent" }),
    new QemuDriver({
      agentCacheDir: "/tmp/a3s-box-test-agent",
      workDir: join(home.home, "qemu"),
      bootTimeoutMs: 180_000,
    }),
  ],
});
const runtime = new CriRuntime(boxes, home.home, {
  registryMirrors: { "registry.k8s.io": registry.host, "gcr.io": registry.host },
  // critest writes its Localhost seccomp profiles to a temporary directory.
  policy: new AccessPolicy({ roots: [Deno.env.get("TMPDIR") ?? "/tmp"] }),
});
const socket = `unix://${join(home.home, "cri.sock")}`;
const server = await serveCri(runtime, socket);
try {
  // Built and pushed under the mirror's names; the suite asks for registry.k8s.io and gcr.io.
  const busyboxPath = "e2e-test-images/busybox:1.29-2";
  const webServerPath = "e2e-test-images/a3s-web-server:1";
  const busybox = `${registry.host}/${busyboxPath}`;
  const webServer = `${registry.host}/${webServerPath}`;
  await addBusybox(home.images, busybox);
  await addBusybox(home.images, "busybox:latest");
  const builder = new ImageBuilder(boxes);
  const build = async (tags: string[], dockerfileText: string, file?: string) => {
    const context = await Deno.makeTempDir({ dir: home.home });
    if (file) await Deno.writeTextFile(join(context, file), "");
    await builder.build({ contextDir: context, tags, dockerfileText });
  };
  await build(
    [webServer],
    'FROM busybox\nRUN mkdir -p /www && echo served > /www/index.html\nCMD ["httpd", "-f", "-p", "80", "-h", "/www"]\n',
  );
  // cri-tools' images/build, with box build and the local registry for docker buildx and gcr.io.
  const staging = `${registry.host}/k8s-staging-cri-tools`;
  const pushed: string[] = [];
  for (const name of ["test-image-1", "test-image-2", "test-image-3", "test-image-latest"]) {
    await build([`${staging}/${name}:latest`], `FROM busybox\nADD ${name} ${name}\n`, name);
    pushed.push(`${staging}/${name}:latest`);
  }
  const tags = [1, 2, 3].map((t) => `${staging}/test-image-tags:${t}`);
  await build(tags, "FROM busybox\nADD same-image same-image\n", "same-image");
  pushed.push(...tags);
  for (const tag of ["test", "all"]) {
    await build([`${staging}/test-image-tag:${tag}`], `FROM busybox\nADD ${tag} ${tag}\n`, tag);
    pushed.push(`${staging}/test-image-tag:${tag}`);
  }
  const users: Record<string, string> = {
    "test-image-user-uid": "1002",
    "test-image-user-username": "www-data",
    "test-image-user-uid-group": "1003:1004",
    "test-image-user-username-group": "www-data:1004",
  };
  for (const [name, user] of Object.entries(users)) {
    await build([`${staging}/${name}:latest`], `FROM busybox\nUSER ${user}\n`);
    pushed.push(`${staging}/${name}:latest`);
  }
  // The recipe runs adduser and addgroup, which Debian's static busybox lacks; these lines are
  // what they write.
  await build(
    [`${staging}/test-image-predefined-group:latest`],
    "FROM busybox\nRUN echo default-user:x:1000:1000::/home/default-user:/bin/sh >> /etc/passwd" +
      " && echo default-user:x:1000: >> /etc/group" +
      " && echo group-defined-in-image:x:50000:default-user >> /etc/group\nUSER 1000\n",
  );
  pushed.push(`${staging}/test-image-predefined-group:latest`);
  // The suite pulls every one itself: none may be here before it does.
  for (const image of [busybox, webServer, ...pushed]) {
    await new RegistryClient(home.images).push(image);
    await home.images.remove(image, () => Promise.resolve(false));
  }
  const report = join(home.home, "report");
  await Deno.mkdir(report);
  const imagesFile = join(home.home, "images.yaml");
  await Deno.writeTextFile(
    imagesFile,
    `defaultTestContainerImage: registry.k8s.io/${busyboxPath}\n` +
      `webServerTestImage: registry.k8s.io/${webServerPath}\n`,
  );
  const started = performance.now();
  const out = await new Deno.Command(critest, {
    args: [
      `--runtime-endpoint=${socket}`,
      `--image-endpoint=${socket}`,
      `--test-images-file=${imagesFile}`,
      `--ginkgo.junit-report=${join(report, "junit.xml")}`,
      `--ginkgo.focus=${focus}`,
      ...(handler ? [`--runtime-handler=${handler}`] : []),
      "--ginkgo.no-color",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  // The whole run, failures' details included, for whoever digs into a case.
  const log = Deno.env.get("A3S_CRITEST_LOG");
  if (log) await Deno.writeFile(log, out.stdout);
  let xml = "";
  for await (const entry of Deno.readDir(report)) {
    if (entry.name.endsWith(".xml")) xml += await Deno.readTextFile(join(report, entry.name));
  }
  const cases = readJunit(xml);
  if (cases.length === 0) {
    console.log(new TextDecoder().decode(out.stdout).slice(-4000));
    console.log(new TextDecoder().decode(out.stderr).slice(-2000));
  }
  for (const c of cases.sort((a, b) => a.name.localeCompare(b.name))) {
    const mark = c.outcome === "passed" ? "PASS" : c.outcome === "failed" ? "FAIL" : "SKIP";
    console.log(`${mark}  ${c.name}${c.reason ? `\n      ${c.reason}` : ""}`);
  }
  const count = (o: Case["outcome"]) => cases.filter((c) => c.outcome === o).length;
  console.log(
    `\ncritest (focus ${focus}): ${count("passed")} passed, ${count("failed")} failed, ` +
      `${count("skipped")} skipped in ${seconds.toFixed(0)} s`,
  );
} finally {
  await server.close();
  for (const item of (await runtime.listPodSandbox({})).items) {
    await runtime.removePodSandbox({ pod_sandbox_id: item.id }).catch(() => {});
  }
  for (const box of await boxes.list({ all: true })) await boxes.remove(box.id, true);
  await boxes.networks.remove(POD_NETWORK).catch(() => {});
  boxes.close();
  await registry.close();
  await home.close();
}
