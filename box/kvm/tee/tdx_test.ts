import { assert, assertEquals, assertRejects, assertThrows } from "@a3s/common/testing";
import { AttestationError } from "./snp.ts";
import { parseTdxQuote, verifyTdxQuote } from "./tdx.ts";
import { pemToDer } from "./der.ts";

const quote = Deno.readFileSync(new URL("./fixtures/tdx_quote_v4.bin", import.meta.url));
const toHex = (bytes: Uint8Array) =>
  [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
// The quote's producer put its 20-byte address at the start of the report data.
const ADDRESS = "46f6b3acf1dd8ac0085e30192741336c4af6edaf";

Deno.test("TDX quote: a real v4 quote parses", () => {
  const parsed = parseTdxQuote(quote);
  assertEquals([parsed.version, parsed.attestationKeyType, parsed.teeType], [4, 2, 0x81]);
  assertEquals(toHex(parsed.qeVendorId), "939a7233f79c4ca9940a0db3957f0607"); // Intel's QE
  assertEquals(toHex(parsed.reportData).slice(0, 40), ADDRESS);
  assertEquals(parsed.mrTd.length, 48);
  assertEquals(parsed.rtmr.length, 4);
  assertEquals(parsed.signature.pckChain.length, 3);
  assertEquals(parsed.debug, false);
  assertThrows(() => parseTdxQuote(quote.subarray(0, 100)), AttestationError, "too short");
  const sgx = quote.slice();
  sgx[4] = 0;
  assertThrows(() => parseTdxQuote(sgx), AttestationError, "not a TDX quote");
});

Deno.test("TDX quote: signatures, QE binding and the PCK chain verify; tampering fails", async () => {
  const parsed = await verifyTdxQuote(quote); // pinned to Intel's SGX Root CA
  assertEquals(toHex(parsed.reportData).slice(0, 40), ADDRESS);

  // Pinning another root (AMD's ARK) refuses Intel's chain.
  const amdArk = pemToDer(
    Deno.readTextFileSync(new URL("./fixtures/ark_milan.pem", import.meta.url)),
  );
  const amdSha256 = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", amdArk)));
  await assertRejects(
    () => verifyTdxQuote(quote, { trustedRootSha256: [amdSha256] }),
    AttestationError,
    "trusted root",
  );

  // Changing the measured body breaks the quote signature.
  for (const offset of [48 + 136, 48 + 520, 20]) {
    const tampered = quote.slice();
    tampered[offset] ^= 1;
    await assertRejects(
      () => verifyTdxQuote(tampered),
      AttestationError,
      "does not verify with its attestation key",
    );
  }
  // Changing the QE report breaks its binding or its PCK signature.
  const qeAt = 632 + 4 + 128 + 6;
  const tamperedQe = quote.slice();
  tamperedQe[qeAt + 10] ^= 1;
  const error = await assertRejects(
    () => verifyTdxQuote(tamperedQe),
    AttestationError,
  );
  assert(error.message.includes("QE report"), error.message);

  await assertRejects(
    () => verifyTdxQuote(quote, { reportData: new Uint8Array(64) }),
    AttestationError,
    "nonce",
  );
});
