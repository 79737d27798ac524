/**
 * The SNP report parser and verifier, on the same checks twice: on a chain and reports made here
 * (always), and on AMD's real Milan chain and report (when the real samples are present).
 */
import { assert, assertEquals, assertRejects, assertThrows } from "@a3s/common/testing";
import {
  AttestationError,
  parseSnpReport,
  SNP_REPORT_SIZE,
  verifySnpAttestation,
  verifySnpChain,
  verifySnpReportSignature,
} from "./snp.ts";
import { toHex } from "./evidence.ts";
import { testSnpChain } from "./_test_snp_chain.ts";
import { type RealSamples, realSampleTest } from "./_samples.ts";

interface SnpCase {
  ark: Uint8Array;
  ask: Uint8Array;
  vcek: Uint8Array;
  report: Uint8Array;
  /** A real root that is not this chain's. */
  otherArk: Uint8Array;
}

// Two made-up roots for the file: RSA key generation is the slow part.
const generated: Promise<SnpCase> = (async () => {
  const [chain, other] = await Promise.all([testSnpChain(), testSnpChain()]);
  const reportData = crypto.getRandomValues(new Uint8Array(64));
  const measurement = crypto.getRandomValues(new Uint8Array(48));
  const report = await chain.report(reportData, measurement);
  return { ark: chain.ark, ask: chain.ask, vcek: chain.vcek, report, otherArk: other.ark };
})();

function checkParse({ report }: SnpCase): void {
  assertEquals(report.length, SNP_REPORT_SIZE);
  const parsed = parseSnpReport(report);
  assertEquals(parsed.version, 2);
  assertEquals(parsed.signatureAlgo, 1);
  assertEquals(parsed.measurement.length, 48);
  assertEquals(parsed.reportData.length, 64);
  assertEquals(parsed.chipId.length, 64);
  assert(parsed.measurement.some((byte) => byte !== 0), "a measurement is present");
  assertEquals(toHex(parsed.measurement), toHex(report.slice(0x90, 0xc0)));
  assertEquals(toHex(parsed.reportData), toHex(report.slice(0x50, 0x90)));
  assertEquals(parsed.debugAllowed, false);
  assertThrows(() => parseSnpReport(report.subarray(0, 100)), AttestationError, "1184");
  const old = report.slice();
  old[0] = 1;
  assertThrows(() => parseSnpReport(old), AttestationError, "unsupported SNP report version 1");
}

async function checkChain({ ark, ask, vcek, otherArk }: SnpCase): Promise<void> {
  await verifySnpChain({ ark, ask, vcek });
  await assertRejects(
    () => verifySnpChain({ ark: otherArk, ask, vcek }),
    AttestationError,
    "ASK is not signed by the ARK",
  );
  await assertRejects(
    () => verifySnpChain({ ark, ask: ark, vcek }),
    AttestationError,
    "VCEK is not signed by the ASK",
  );
}

async function checkSignature({ ark, ask, vcek, report }: SnpCase): Promise<void> {
  await verifySnpReportSignature(report, vcek);
  const parsed = await verifySnpAttestation(report, { ark, ask, vcek }, {
    reportData: report.slice(0x50, 0x90),
  });
  assertEquals(parsed.version, 2);
  for (const offset of [0x08, 0x50, 0x90, 0x1a0, 0x29f]) {
    const tampered = report.slice();
    tampered[offset] ^= 1;
    await assertRejects(
      () => verifySnpReportSignature(tampered, vcek),
      AttestationError,
      "does not verify",
    );
  }
  const forgedSignature = report.slice();
  forgedSignature[0x2a0] ^= 1;
  await assertRejects(() => verifySnpReportSignature(forgedSignature, vcek), AttestationError);
  await assertRejects(
    () =>
      verifySnpAttestation(report, { ark, ask, vcek }, { reportData: new Uint8Array(64).fill(7) }),
    AttestationError,
    "nonce",
  );
}

Deno.test("SNP report: a generated report parses", async () => checkParse(await generated));
Deno.test("SNP chain: a generated ARK, ASK and VCEK verify; another root does not", async () => {
  await checkChain(await generated);
});
Deno.test("SNP report signature: a generated report verifies; any change breaks it", async () => {
  await checkSignature(await generated);
});

const milan = (samples: RealSamples): SnpCase => ({
  ark: samples.ark,
  ask: samples.ask,
  vcek: samples.vcek,
  report: samples.snpReport,
  otherArk: samples.genoaArk,
});
realSampleTest("SNP report: a real Milan report parses", (samples) => checkParse(milan(samples)));
realSampleTest(
  "SNP chain: AMD's Milan ARK, ASK and VCEK verify; the Genoa root does not",
  (samples) => checkChain(milan(samples)),
);
realSampleTest(
  "SNP report signature: the real Milan report verifies; any change breaks it",
  (samples) => checkSignature(milan(samples)),
);
