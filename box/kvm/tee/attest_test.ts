import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { attest } from "./attest.ts";
import { fakeGuest, fakeSnpGuest, type SnpEvidence } from "./_test_guest.ts";
import { testSnpChain } from "./_test_snp_chain.ts";
import { testTdxChain } from "./_test_tdx_quote.ts";
import { realSampleTest } from "./_samples.ts";

Deno.test("attest: no TEE here, a TEE host, and a simulated answer that says so", async () => {
  const empty = await Deno.makeTempDir();
  try {
    const none = await attest({ nonce: new Uint8Array(8), root: empty });
    assertEquals([none.tee, none.verified, none.simulated], ["none", false, false]);
    assert(none.tee === "none" && none.message.startsWith("no TEE here"));
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
  const host = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${host}/sys/module/kvm_amd/parameters`, { recursive: true });
    await Deno.mkdir(`${host}/proc`);
    await Deno.writeTextFile(`${host}/sys/module/kvm_amd/parameters/sev_snp`, "Y\n");
    await Deno.writeTextFile(`${host}/proc/cpuinfo`, "flags\t: fpu sev sev_es sev_snp\n");
    const onHost = await attest({ nonce: new Uint8Array(8), root: host });
    assert(
      onHost.tee === "none" && onHost.message.includes("sev-snp host"),
      JSON.stringify(onHost),
    );
  } finally {
    await Deno.remove(host, { recursive: true });
  }
  const simulated = await attest({ nonce: Uint8Array.of(1, 2, 3), simulate: true });
  assert(simulated.tee === "simulated");
  assertEquals([simulated.simulated, simulated.verified], [true, false]);
  assert(simulated.message.includes("SIMULATED"));
  assertEquals(simulated.reportData.subarray(0, 4), Uint8Array.of(1, 2, 3, 0));
});

/** Runs `check` on a fresh fake guest serving `evidence`, then removes the guest's tree. */
async function onSnpGuest(
  evidence: SnpEvidence,
  check: (root: string) => Promise<void>,
): Promise<void> {
  const root = await fakeSnpGuest(evidence);
  try {
    await check(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/**
 * What an SNP guest's attestation must do with `evidence`: verify for the report's own nonce
 * under `ark`, refuse another nonce, another measurement and another root (`otherArk`), and,
 * with no roots given, answer as AMD's pinned roots decide (`amdSigned`).
 */
async function checkSnpGuest(
  evidence: SnpEvidence,
  otherArk: Uint8Array,
  amdSigned: boolean,
): Promise<void> {
  const { report, ark } = evidence;
  const nonce = report.slice(0x50, 0x90);
  await onSnpGuest(evidence, async (root) => {
    const result = await attest({ nonce, root, entryName: "test", trustedArks: [ark] });
    assert(result.tee === "sev-snp");
    assertEquals([result.verified, result.simulated], [true, false]);
    assertEquals(result.report.reportData, nonce);
    assertEquals(result.measurement, report.slice(0x90, 0xc0));
  });
  await onSnpGuest(evidence, async (root) => {
    await assertRejects(
      () => attest({ nonce: new Uint8Array(64), root, entryName: "test", trustedArks: [ark] }),
      Error,
      "nonce",
    );
  });
  await onSnpGuest(evidence, async (root) => {
    // With no roots given, AMD's published ARKs (pinned by fingerprint) are the trusted ones.
    const unpinned = attest({ nonce, root, entryName: "test" });
    if (amdSigned) {
      const result = await unpinned;
      assert(result.tee === "sev-snp" && result.verified);
    } else {
      await assertRejects(() => unpinned, Error, "not one this verifier trusts");
    }
  });
  await onSnpGuest(evidence, async (root) => {
    await assertRejects(
      () =>
        attest({
          nonce,
          root,
          entryName: "test",
          trustedArks: [ark],
          expectedMeasurement: new Uint8Array(48),
        }),
      Error,
      "not the expected one",
    );
  });
  await onSnpGuest(evidence, async (root) => {
    await assertRejects(
      () => attest({ nonce, root, entryName: "test", trustedArks: [otherArk] }),
      Error,
      "trusts",
    );
  });
}

Deno.test("attest: an SEV-SNP guest's report is fetched through configfs TSM and verified", async () => {
  const [chain, other] = await Promise.all([testSnpChain(), testSnpChain()]);
  const report = await chain.report(
    crypto.getRandomValues(new Uint8Array(64)),
    crypto.getRandomValues(new Uint8Array(48)),
  );
  await checkSnpGuest(
    { report, ark: chain.ark, ask: chain.ask, vcek: chain.vcek },
    other.ark,
    false,
  );
});

realSampleTest(
  "attest: a real Milan report is fetched through configfs TSM and verified",
  ({ snpReport, ark, ask, vcek, genoaArk }) =>
    checkSnpGuest({ report: snpReport, ark, ask, vcek }, genoaArk, true),
);

/** A TDX guest serving `quote` must verify under `roots` and leave no report entry behind. */
async function checkTdxGuest(quote: Uint8Array, roots?: Uint8Array[]): Promise<void> {
  const nonce = quote.slice(48 + 520, 48 + 584);
  const root = await fakeGuest("/dev/tdx_guest", "tdx_guest", quote);
  try {
    const result = await attest({ nonce, root, entryName: "test", trustedTdxRoots: roots });
    assert(result.tee === "tdx");
    assertEquals(result.verified, true);
    assertEquals(result.quote.reportData, nonce);
    const written = await Deno.readFile(`${root}/sys/kernel/config/tsm/report/test/inblob`).catch(
      () => undefined,
    );
    assertEquals(written, undefined, "the report entry is removed afterwards");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  // The guest's entry is gone after one answer (as configfs removes it): a fresh one replays it.
  const replayed = await fakeGuest("/dev/tdx_guest", "tdx_guest", quote);
  try {
    await assertRejects(
      () =>
        attest({
          nonce: new Uint8Array(64),
          root: replayed,
          entryName: "test",
          trustedTdxRoots: roots,
        }),
      Error,
      "nonce",
    );
  } finally {
    await Deno.remove(replayed, { recursive: true });
  }
}

Deno.test("attest: a TDX guest's quote is fetched through configfs TSM and verified", async () => {
  const chain = await testTdxChain();
  const mrTd = crypto.getRandomValues(new Uint8Array(48));
  const quote = await chain.quote({ mrTd, reportData: crypto.getRandomValues(new Uint8Array(64)) });
  await checkTdxGuest(quote, [chain.root]);
  const nonce = quote.slice(48 + 520, 48 + 584);
  // Intel's root is the default: the made-up one is refused unless pinned.
  const unpinned = await fakeGuest("/dev/tdx_guest", "tdx_guest", quote);
  try {
    await assertRejects(
      () => attest({ nonce, root: unpinned, entryName: "test" }),
      Error,
      "trusted root",
    );
  } finally {
    await Deno.remove(unpinned, { recursive: true });
  }
  // A debuggable trust domain proves nothing: refused even though its quote verifies.
  const debuggable = await chain.quote({ mrTd, reportData: nonce, debug: true });
  const debugRoot = await fakeGuest("/dev/tdx_guest", "tdx_guest", debuggable);
  try {
    await assertRejects(
      () => attest({ nonce, root: debugRoot, entryName: "test", trustedTdxRoots: [chain.root] }),
      Error,
      "debuggable",
    );
  } finally {
    await Deno.remove(debugRoot, { recursive: true });
  }
});

realSampleTest(
  "attest: a real TDX quote is fetched through configfs TSM and verified up to Intel's root",
  ({ tdxQuote }) => checkTdxGuest(tdxQuote),
);
