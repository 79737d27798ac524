import { assert, assertEquals, assertRejects, assertThrows } from "@a3s/common/testing";
import { pemToDer } from "./der.ts";
import {
  AttestationError,
  parseSnpReport,
  SNP_REPORT_SIZE,
  verifySnpAttestation,
  verifySnpChain,
  verifySnpReportSignature,
} from "./snp.ts";

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);
const ark = pemToDer(Deno.readTextFileSync(fixture("ark_milan.pem")));
const ask = pemToDer(Deno.readTextFileSync(fixture("ask_milan.pem")));
const genoaArk = pemToDer(Deno.readTextFileSync(fixture("ark_genoa.pem")));
const vcek = Deno.readFileSync(fixture("vcek_milan.der"));
const report = Uint8Array.from(
  Deno.readTextFileSync(fixture("report_milan.hex")).trim().match(/../g)!,
  (h) => parseInt(h, 16),
);
const toHex = (bytes: Uint8Array) =>
  [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

Deno.test("SNP report: a real Milan report parses", () => {
  assertEquals(report.length, SNP_REPORT_SIZE);
  const parsed = parseSnpReport(report);
  assertEquals(parsed.version, 2);
  assertEquals(parsed.signatureAlgo, 1);
  assertEquals(parsed.measurement.length, 48);
  assertEquals(parsed.reportData.length, 64);
  assertEquals(parsed.chipId.length, 64);
  assert(parsed.measurement.some((byte) => byte !== 0), "a measurement is present");
  assertEquals(toHex(parsed.measurement), toHex(report.slice(0x90, 0xc0)));
  assertThrows(() => parseSnpReport(report.subarray(0, 100)), AttestationError, "1184");
});

Deno.test("SNP chain: ARK, ASK and VCEK verify with WebCrypto; a wrong root does not", async () => {
  await verifySnpChain({ ark, ask, vcek });
  await assertRejects(
    () => verifySnpChain({ ark: genoaArk, ask, vcek }),
    AttestationError,
    "ASK is not signed by the ARK",
  );
  await assertRejects(
    () => verifySnpChain({ ark, ask: ark, vcek }),
    AttestationError,
    "VCEK is not signed by the ASK",
  );
});

Deno.test("SNP report signature: verifies, and any change to the signed bytes breaks it", async () => {
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
});
