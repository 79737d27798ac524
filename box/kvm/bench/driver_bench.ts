/**
 * kvm driver and TEE benchmarks, each beside its peer from the same run:
 *
 * - a box on the kvm VMM from `start` to its agent answering (VMM process, virtio bring-up,
 *   first heartbeat) with the assembled echo agent standing in for Linux, which this host's
 *   kvm_pvm cannot boot;
 * - one agent heartbeat round trip through the VMM (unix socket → VMM → receiveq → guest →
 *   transmitq → back) against the same heartbeat to the real guest agent running as a host
 *   process (a unix socket straight to it, the transport of a namespace box);
 * - an RA-TLS certificate: issuing it (key, evidence, signature) and verifying it (self
 *   signature, SNP chain, report signature, key binding).
 *
 *   deno bench -A box/kvm/bench/driver_bench.ts
 */
import { join } from "node:path";
import { AgentClient } from "../../agent/client.ts";
import { buildAgent } from "../../agent/build.ts";
import { KvmDriver } from "../driver.ts";
import { GUESTS } from "../testdata/guests.ts";
import { createRaTlsCertificate, verifyRaTlsCertificate } from "../tee/ratls.ts";
import { testSnpChain } from "../tee/_test_snp_chain.ts";

const home = await Deno.makeTempDir({ dir: "/tmp", prefix: "a3skb" });
const kvm = new KvmDriver({
  guestProgram: { image: GUESTS.echo_agent, mode: "protected", entry: 0x100000 },
  bootTimeoutMs: 60_000,
});
const boxSpec = (id: string) => ({
  id,
  rootfs: "/nonexistent",
  stateDir: join(home, id),
  command: ["true"],
  env: {},
  volumes: [],
  limits: { memoryBytes: 16 * 1024 * 1024 },
  network: "none" as const,
});
const output = (id: string) => ({
  stdoutPath: join(home, `${id}.out`),
  stderrPath: join(home, `${id}.err`),
});

// The long-lived boxes the round-trip benches talk to.
const kvmBox = boxSpec("kvm-rtt");
await kvm.create(kvmBox);
await kvm.start(kvmBox, output("kvm-rtt"));
const kvmAgent = new AgentClient(
  await Deno.connect({ transport: "unix", path: join(kvmBox.stateDir, "agent.sock") }),
);
// The peer: the real guest agent (the one namespace and qemu boxes run) on a unix socket.
const agentBinary = await buildAgent("/tmp/a3s-box-test-agent");
const agentSocket = join(home, "agent.sock");
const agentProcess = new Deno.Command(agentBinary, {
  args: ["--socket", agentSocket, "--", "sleep", "300"],
  stdin: "null",
  stdout: "null",
  stderr: "null",
}).spawn();
let namespaceAgent: AgentClient | undefined;
for (let i = 0; i < 200 && !namespaceAgent; i++) {
  namespaceAgent = await Deno.connect({ transport: "unix", path: agentSocket })
    .then((conn) => new AgentClient(conn), () => undefined);
  if (!namespaceAgent) await new Promise((r) => setTimeout(r, 10));
}
if (!namespaceAgent) throw new Error("the guest agent did not listen");
const hostAgent: AgentClient = namespaceAgent;
const chain = await testSnpChain();
const measurement = new Uint8Array(48);
const evidence = async (reportData: Uint8Array) => ({
  tee: "sev-snp" as const,
  report: await chain.report(reportData, measurement),
  ark: chain.ark,
  ask: chain.ask,
  vcek: chain.vcek,
});
const identity = await createRaTlsCertificate({ evidence });

/** Ends what the benches started; synchronous, as `unload` handlers must be. */
function cleanUp(): void {
  kvmAgent.close();
  hostAgent.close();
  // SIGTERM: the agent passes it to its main command, so nothing it started outlives it.
  agentProcess.kill("SIGTERM");
  try {
    Deno.kill(JSON.parse(Deno.readTextFileSync(join(kvmBox.stateDir, "pid.json"))).pid, "SIGKILL");
  } catch { /* already gone */ }
  Deno.removeSync(home, { recursive: true });
}
globalThis.addEventListener("unload", cleanUp);

let n = 0;
Deno.bench({
  name: "kvm box: start to agent ready (VMM process, virtio, first heartbeat)",
  group: "start",
  n: 10,
  async fn(b) {
    const spec = boxSpec(`kvm-start-${n++}`);
    await kvm.create(spec);
    b.start();
    await kvm.start(spec, output(spec.id));
    b.end();
    await kvm.remove(spec);
  },
});

Deno.bench({
  name: "heartbeat round trip: the guest agent as a host process (unix socket)",
  group: "heartbeat",
  baseline: true,
  n: 500,
  async fn() {
    await hostAgent.health();
  },
});

Deno.bench({
  name: "heartbeat round trip: kvm box (socket, VMM, virtqueues, guest)",
  group: "heartbeat",
  n: 500,
  async fn() {
    await kvmAgent.health();
  },
});

Deno.bench({
  name: "RA-TLS: issue a certificate",
  group: "ratls",
  n: 50,
  async fn() {
    await createRaTlsCertificate({ evidence });
  },
});

Deno.bench({
  name: "RA-TLS: verify a certificate",
  group: "ratls",
  n: 50,
  async fn() {
    await verifyRaTlsCertificate(identity.certificateDer, { trustedArkSha256: [chain.arkSha256] });
  },
});
