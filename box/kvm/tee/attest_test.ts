import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { attest } from "./attest.ts";
import {
  ark,
  ask,
  certTable,
  fakeGuest,
  genoaArk,
  snpReport,
  tdxQuote,
  vcek,
} from "./_test_guest.ts";

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

Deno.test("attest: an SEV-SNP guest's report is fetched through configfs TSM and verified", async () => {
  const VCEK = "63da758d-e664-4564-adc5-f4b93be8accd";
  const ASK = "4ab7b379-bbac-4fe4-a02f-05aef327c782";
  const ARK = "c0b406a4-a803-4952-9743-3fb6014cd0ae";
  const table = certTable([[VCEK, vcek], [ASK, ask], [ARK, ark]]);
  const root = await fakeGuest("/dev/sev-guest", "sev_guest", snpReport, table);
  const nonce = snpReport.slice(0x50, 0x90);
  try {
    const result = await attest({ nonce, root, entryName: "test", trustedArks: [ark] });
    assert(result.tee === "sev-snp");
    assertEquals([result.verified, result.simulated], [true, false]);
    assertEquals(result.report.reportData, nonce);
    assertEquals(result.measurement, snpReport.slice(0x90, 0xc0));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  const again = await fakeGuest("/dev/sev-guest", "sev_guest", snpReport, table);
  try {
    await assertRejects(
      () =>
        attest({ nonce: new Uint8Array(64), root: again, entryName: "test", trustedArks: [ark] }),
      Error,
      "nonce",
    );
  } finally {
    await Deno.remove(again, { recursive: true });
  }
  const pinned = await fakeGuest("/dev/sev-guest", "sev_guest", snpReport, table);
  try {
    // With no roots given, AMD's published ARKs (pinned by fingerprint) are the trusted ones.
    const result = await attest({ nonce, root: pinned, entryName: "test" });
    assert(result.tee === "sev-snp" && result.verified);
  } finally {
    await Deno.remove(pinned, { recursive: true });
  }
  const measured = await fakeGuest("/dev/sev-guest", "sev_guest", snpReport, table);
  try {
    const wrong = new Uint8Array(48);
    await assertRejects(
      () => attest({ nonce, root: measured, entryName: "test", expectedMeasurement: wrong }),
      Error,
      "not the expected one",
    );
  } finally {
    await Deno.remove(measured, { recursive: true });
  }
  const third = await fakeGuest("/dev/sev-guest", "sev_guest", snpReport, table);
  try {
    await assertRejects(
      () => attest({ nonce, root: third, entryName: "test", trustedArks: [genoaArk] }),
      Error,
      "trusts",
    );
  } finally {
    await Deno.remove(third, { recursive: true });
  }
});

Deno.test("attest: a TDX guest's quote is fetched through configfs TSM and verified", async () => {
  const root = await fakeGuest("/dev/tdx_guest", "tdx_guest", tdxQuote);
  try {
    const nonce = tdxQuote.slice(48 + 520, 48 + 584);
    const result = await attest({ nonce, root, entryName: "test" });
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
});
