/**
 * The TDX quote parser and verifier: on quotes built here by a made-up quoting enclave and PCK
 * chain (always), and on a real v4 quote up to Intel's SGX Root CA (when the real samples are
 * present). Both run the same tampering checks.
 */
import { assertEquals, assertRejects, assertThrows } from "@a3s/common/testing";
import { AttestationError } from "./snp.ts";
import { INTEL_SGX_ROOT_CA_SHA256, parseTdxQuote, verifyTdxQuote } from "./tdx.ts";
import { toHex } from "./evidence.ts";
import { INTEL_QE_VENDOR_ID, testTdxChain } from "./_test_tdx_quote.ts";
import { realSampleTest } from "./_samples.ts";

const chain = testTdxChain();

/** The checks every well-formed quote must pass, given the roots that vouch for it or not. */
async function checkQuote(
  quote: Uint8Array,
  trusted: { trustedRootSha256?: string[] },
  untrustedRootSha256: string,
): Promise<void> {
  const parsed = await verifyTdxQuote(quote, trusted);
  assertEquals(parsed.reportData, quote.slice(48 + 520, 48 + 584));

  await assertRejects(
    () => verifyTdxQuote(quote, { trustedRootSha256: [untrustedRootSha256] }),
    AttestationError,
    "trusted root",
  );
  // Changing the header or the measured body breaks the quote signature.
  for (const offset of [48 + 136, 48 + 520, 20]) {
    const tampered = quote.slice();
    tampered[offset] ^= 1;
    await assertRejects(
      () => verifyTdxQuote(tampered, trusted),
      AttestationError,
      "does not verify with its attestation key",
    );
  }
  // Changing the QE report breaks its PCK signature, or, in its report data, its binding.
  const qeAt = 632 + 4 + 128 + 6;
  for (
    const [offset, message] of [
      [10, "the QE report's signature does not verify with the PCK certificate"],
      [320, "the quoting enclave's report does not bind the attestation key"],
    ] as const
  ) {
    const tamperedQe = quote.slice();
    tamperedQe[qeAt + offset] ^= 1;
    await assertRejects(() => verifyTdxQuote(tamperedQe, trusted), AttestationError, message);
  }
  await assertRejects(
    () => verifyTdxQuote(quote, { ...trusted, reportData: new Uint8Array(64) }),
    AttestationError,
    "nonce",
  );
}

Deno.test("TDX quote: a built v4 quote parses; malformed ones are refused", async () => {
  const mrTd = crypto.getRandomValues(new Uint8Array(48));
  const reportData = crypto.getRandomValues(new Uint8Array(64));
  const quote = await (await chain).quote({ mrTd, reportData });
  const parsed = parseTdxQuote(quote);
  assertEquals([parsed.version, parsed.attestationKeyType, parsed.teeType], [4, 2, 0x81]);
  assertEquals(toHex(parsed.qeVendorId), INTEL_QE_VENDOR_ID);
  assertEquals([parsed.mrTd, parsed.reportData], [mrTd, reportData]);
  assertEquals(parsed.rtmr.length, 4);
  assertEquals(parsed.signature.pckChain.length, 3);
  assertEquals(parsed.debug, false);
  assertEquals(
    parseTdxQuote(await (await chain).quote({ mrTd, reportData, debug: true })).debug,
    true,
  );

  assertThrows(() => parseTdxQuote(quote.subarray(0, 100)), AttestationError, "too short");
  const sgx = quote.slice();
  sgx[4] = 0;
  assertThrows(() => parseTdxQuote(sgx), AttestationError, "not a TDX quote");
  const v3 = quote.slice();
  v3[0] = 3;
  assertThrows(() => parseTdxQuote(v3), AttestationError, "unsupported quote version 3");
  const otherKey = quote.slice();
  otherKey[2] = 3;
  assertThrows(() => parseTdxQuote(otherKey), AttestationError, "not ECDSA P-256");
  const truncated = quote.subarray(0, quote.length - 10);
  assertThrows(() => parseTdxQuote(truncated), AttestationError, "runs past the quote");
});

Deno.test("TDX quote: a built quote verifies under its pinned root; tampering fails", async () => {
  const built = await chain;
  const quote = await built.quote({
    mrTd: crypto.getRandomValues(new Uint8Array(48)),
    reportData: crypto.getRandomValues(new Uint8Array(64)),
  });
  // Unpinned, the made-up root is not Intel's and is refused.
  await assertRejects(() => verifyTdxQuote(quote), AttestationError, "trusted root");
  await checkQuote(quote, { trustedRootSha256: [built.rootSha256] }, INTEL_SGX_ROOT_CA_SHA256);

  // A chain whose links do not sign each other, or that does not end at a root, is refused.
  const other = await testTdxChain();
  const body = { mrTd: new Uint8Array(48), reportData: new Uint8Array(64) };
  const trusted = { trustedRootSha256: [built.rootSha256, other.rootSha256] };
  await assertRejects(
    async () =>
      verifyTdxQuote(
        await built.quote({ ...body, pckChain: [built.pck, other.platform, other.root] }),
        trusted,
      ),
    AttestationError,
    "PCK chain link 0 is not signed by the next certificate",
  );
  await assertRejects(
    async () =>
      verifyTdxQuote(
        await built.quote({ ...body, pckChain: [built.pck, built.platform] }),
        trusted,
      ),
    AttestationError,
    "not self-signed",
  );
  await assertRejects(
    async () => verifyTdxQuote(await built.quote({ ...body, pckChain: [built.pck] })),
    AttestationError,
    "fewer than two certificates",
  );
  // A debuggable TD's quote verifies (the verifier reports it); policy refuses it elsewhere.
  const debuggable = await built.quote({ ...body, debug: true });
  assertEquals((await verifyTdxQuote(debuggable, trusted)).debug, true);
});

realSampleTest("TDX quote: a real v4 quote parses", ({ tdxQuote }) => {
  const parsed = parseTdxQuote(tdxQuote);
  assertEquals([parsed.version, parsed.attestationKeyType, parsed.teeType], [4, 2, 0x81]);
  assertEquals(toHex(parsed.qeVendorId), INTEL_QE_VENDOR_ID); // Intel's QE
  // The quote's producer put its 20-byte address at the start of the report data.
  assertEquals(toHex(parsed.reportData).slice(0, 40), "46f6b3acf1dd8ac0085e30192741336c4af6edaf");
  assertEquals(parsed.mrTd.length, 48);
  assertEquals(parsed.signature.pckChain.length, 3);
  assertEquals(parsed.debug, false);
});

realSampleTest(
  "TDX quote: a real quote verifies up to Intel's pinned root; tampering fails",
  async ({ tdxQuote, ark }) => {
    // Pinning another real root (AMD's ARK-Milan) must refuse Intel's chain.
    const amdSha256 = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", ark.slice())));
    await checkQuote(tdxQuote, {}, amdSha256);
  },
);
