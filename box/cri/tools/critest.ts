/**
 * Runs the Kubernetes CRI conformance suite (`critest`, from cri-tools) against `box cri` and
 * prints which cases pass. critest pulls its images, and this machine has no internet: a local
 * `docker-registry` serves busybox under the name critest asks for (through critest's own
 * `--registry-prefix`), so the image really goes through box's `PullImage`. Images critest needs
 * that are not busybox (httpd, nginx, its image-test images) are not there, and their cases
 * fail at the pull; that is reported as it is.
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
  // critest's default image, under the prefix it will pull from; then dropped locally, so the
  // suite's pull is a real one.
  const name = `${registry.host}/e2e-test-images/busybox:latest`;
  await addBusybox(home.images, name);
  await new RegistryClient(home.images).push(name);
  await home.images.remove(name, () => Promise.resolve(false));
  const report = join(home.home, "report");
  await Deno.mkdir(report);
  const started = performance.now();
  const out = await new Deno.Command(critest, {
    args: [
      `--runtime-endpoint=${socket}`,
      `--image-endpoint=${socket}`,
      `--registry-prefix=${registry.host}`,
      `--report-dir=${report}`,
      `--ginkgo.focus=${focus}`,
      "--ginkgo.no-color",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
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
