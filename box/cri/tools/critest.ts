/**
 * Runs the Kubernetes CRI conformance suite (`critest`, from cri-tools) against `box cri` and
 * prints which cases pass. critest pulls its images, and this machine has no internet: a local
 * `docker-registry` serves the two images critest lets an operator choose (`--test-images-file`):
 * busybox as its default container image, and for its web server image a busybox built by
 * `box build` to serve HTTP on port 80. Both really go through box's `PullImage`. Images critest
 * names itself (httpd, its image-manager test images) are not there, and their cases fail at the
 * pull; that is reported as it is.
 *
 *   deno run -A box/cri/tools/critest.ts CRITEST_BINARY [GINKGO_FOCUS]
 *
 * `box/cri/tools/build_crictl.sh` builds the binary. Needs root, bubblewrap, ip netns and
 * docker-registry, like box's other CRI tests.
 */
import { join } from "node:path";
import { addBusybox, startRegistry, testHome } from "../../_test_support.ts";
import { BoxManager } from "../../manager.ts";
import { NamespaceDriver } from "../../drivers/namespace.ts";
import { RegistryClient } from "../../image/registry.ts";
import { ImageBuilder } from "../../builder/builder.ts";
import { CriRuntime, POD_NETWORK } from "../cri_runtime.ts";
import { serveCri } from "../server.ts";

const [critest, focus = "\\[Conformance\\]"] = Deno.args;
if (!critest) {
  console.error("usage: critest.ts CRITEST_BINARY [GINKGO_FOCUS]");
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
  drivers: [new NamespaceDriver({ agentCacheDir: "/tmp/a3s-box-test-agent" })],
});
const runtime = new CriRuntime(boxes, home.home);
const socket = `unix://${join(home.home, "cri.sock")}`;
const server = await serveCri(runtime, socket);
try {
  // The two images, pushed to the local registry and dropped locally, so the suite's pulls are
  // real ones.
  const busybox = `${registry.host}/e2e-test-images/busybox:1.29-2`;
  const webServer = `${registry.host}/e2e-test-images/web-server:1`;
  await addBusybox(home.images, busybox);
  const context = await Deno.makeTempDir({ dir: home.home });
  await new ImageBuilder(boxes).build({
    contextDir: context,
    tags: [webServer],
    dockerfileText: `FROM ${busybox}\nRUN mkdir -p /www && echo served > /www/index.html\n` +
      'CMD ["httpd", "-f", "-p", "80", "-h", "/www"]\n',
  });
  for (const image of [busybox, webServer]) {
    await new RegistryClient(home.images).push(image);
    await home.images.remove(image, () => Promise.resolve(false));
  }
  const report = join(home.home, "report");
  await Deno.mkdir(report);
  const imagesFile = join(home.home, "images.yaml");
  await Deno.writeTextFile(
    imagesFile,
    `defaultTestContainerImage: ${busybox}\nwebServerTestImage: ${webServer}\n`,
  );
  const started = performance.now();
  const out = await new Deno.Command(critest, {
    args: [
      `--runtime-endpoint=${socket}`,
      `--image-endpoint=${socket}`,
      `--test-images-file=${imagesFile}`,
      `--ginkgo.junit-report=${join(report, "junit.xml")}`,
      `--ginkgo.focus=${focus}`,
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
