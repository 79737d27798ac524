import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import {
  connectRaTls,
  createRaTlsCertificate,
  raTlsReportData,
  verifyRaTlsCertificate,
} from "./ratls.ts";
import { certificateParts } from "./der.ts";
import { testTdxChain } from "./_test_tdx_quote.ts";
import { realSampleTest } from "./_samples.ts";
import { toHex } from "./evidence.ts";
import { AttestationError } from "./snp.ts";
import { testSnpChain } from "./_test_snp_chain.ts";

const measurement = crypto.getRandomValues(new Uint8Array(48));
// One made-up chain for the file: RSA key generation is the slow part.
const sharedChain = testSnpChain();

Deno.test("RA-TLS: a certificate whose SNP report binds its key verifies end to end", async () => {
  const chain = await sharedChain;
  const nonce = crypto.getRandomValues(new Uint8Array(32));
  const identity = await createRaTlsCertificate({
    nonce,
    evidence: async (reportData) => ({
      tee: "sev-snp",
      report: await chain.report(reportData, measurement),
      ark: chain.ark,
      ask: chain.ask,
      vcek: chain.vcek,
    }),
  });
  assertEquals(identity.simulated, false);
  const pinned = { trustedArkSha256: [chain.arkSha256], nonce };
  const result = await verifyRaTlsCertificate(identity.certificatePem, {
    ...pinned,
    expectedMeasurement: measurement,
  });
  assert(result.tee === "sev-snp" && !result.simulated);
  assertEquals(result.measurement, measurement);
  assertEquals(result.publicKeySha256.length, 64);
  // The same certificate is refused: under AMD's roots (the test ARK is not pinned), with
  // another nonce (a replayed certificate), for another measurement, and after it expires.
  await assertRejects(
    () => verifyRaTlsCertificate(identity.certificateDer),
    AttestationError,
    "not one this verifier trusts",
  );
  await assertRejects(
    () => verifyRaTlsCertificate(identity.certificateDer, { ...pinned, nonce: new Uint8Array(32) }),
    AttestationError,
    "does not bind this certificate's public key",
  );
  await assertRejects(
    () =>
      verifyRaTlsCertificate(identity.certificateDer, {
        ...pinned,
        expectedMeasurement: new Uint8Array(48),
      }),
    AttestationError,
    "not the expected one",
  );
  await assertRejects(
    () => verifyRaTlsCertificate(identity.certificateDer, { ...pinned, now: new Date(0) }),
    AttestationError,
    "validity",
  );
  // A flipped byte in the signed part of the certificate breaks its self-signature.
  const tampered = identity.certificateDer.slice();
  tampered[tampered.length - 120] ^= 1;
  await assertRejects(() => verifyRaTlsCertificate(tampered, pinned), AttestationError);
});

Deno.test("RA-TLS: a certificate whose TDX quote binds its key verifies end to end", async () => {
  const chain = await testTdxChain();
  const nonce = crypto.getRandomValues(new Uint8Array(32));
  const identity = await createRaTlsCertificate({
    nonce,
    evidence: async (reportData) => ({
      tee: "tdx",
      quote: await chain.quote({ mrTd: measurement, reportData }),
    }),
  });
  const pinned = { trustedTdxRootSha256: [chain.rootSha256], nonce };
  const result = await verifyRaTlsCertificate(identity.certificatePem, {
    ...pinned,
    expectedMeasurement: measurement,
  });
  assert(result.tee === "tdx" && !result.simulated);
  assertEquals(result.measurement, measurement);
  // Intel's root is the default; the made-up one is refused unless pinned.
  await assertRejects(
    () => verifyRaTlsCertificate(identity.certificateDer, { nonce }),
    AttestationError,
    "trusted root",
  );
  await assertRejects(
    () => verifyRaTlsCertificate(identity.certificateDer, { ...pinned, nonce: new Uint8Array(32) }),
    AttestationError,
    "does not bind this certificate's public key",
  );
});

Deno.test("RA-TLS: a genuine report made for other data cannot vouch for a new key", async () => {
  // Each report verifies (pinned chain, signature) but carries data its guest chose, not the
  // hash of this certificate's key: the binding check refuses it.
  const snpChain = await sharedChain;
  const snp = await createRaTlsCertificate({
    evidence: async () => ({
      tee: "sev-snp",
      report: await snpChain.report(crypto.getRandomValues(new Uint8Array(64)), measurement),
      ark: snpChain.ark,
      ask: snpChain.ask,
      vcek: snpChain.vcek,
    }),
  });
  await assertRejects(
    () => verifyRaTlsCertificate(snp.certificatePem, { trustedArkSha256: [snpChain.arkSha256] }),
    AttestationError,
    "does not bind this certificate's public key",
  );
  const tdxChain = await testTdxChain();
  const tdx = await createRaTlsCertificate({
    evidence: async () => ({
      tee: "tdx",
      quote: await tdxChain.quote({
        mrTd: measurement,
        reportData: crypto.getRandomValues(new Uint8Array(64)),
      }),
    }),
  });
  await assertRejects(
    () =>
      verifyRaTlsCertificate(tdx.certificatePem, { trustedTdxRootSha256: [tdxChain.rootSha256] }),
    AttestationError,
    "does not bind this certificate's public key",
  );
});

realSampleTest(
  "RA-TLS: the real Milan report and TDX quote verify but cannot vouch for a new key",
  async ({ ark, ask, vcek, snpReport, tdxQuote }) => {
    const identity = await createRaTlsCertificate({
      evidence: () => Promise.resolve({ tee: "sev-snp", report: snpReport, ark, ask, vcek }),
    });
    // AMD's pinned ARK-Milan accepts the chain and the report signature; the report's data is
    // what that guest asked for, not this certificate's key, so the binding check refuses it.
    await assertRejects(
      () => verifyRaTlsCertificate(identity.certificatePem),
      AttestationError,
      "does not bind this certificate's public key",
    );
    const tdx = await createRaTlsCertificate({
      evidence: () => Promise.resolve({ tee: "tdx", quote: tdxQuote }),
    });
    await assertRejects(
      () => verifyRaTlsCertificate(tdx.certificatePem),
      AttestationError,
      "does not bind this certificate's public key",
    );
  },
);

Deno.test("RA-TLS: simulated evidence is refused unless asked for, and then says so", async () => {
  const identity = await createRaTlsCertificate({
    evidence: (reportData) => Promise.resolve({ tee: "simulated", reportData }),
  });
  assertEquals(identity.simulated, true);
  await assertRejects(
    () => verifyRaTlsCertificate(identity.certificatePem),
    AttestationError,
    "SIMULATED",
  );
  const result = await verifyRaTlsCertificate(identity.certificatePem, { allowSimulated: true });
  assertEquals([result.tee, result.simulated], ["simulated", true]);
  await assertRejects(() => verifyRaTlsCertificate("not a certificate"), AttestationError, "PEM");
  await assertRejects(
    () => verifyRaTlsCertificate(new Uint8Array([0x30, 0x03, 1, 2, 3])),
    AttestationError,
    "X.509",
  );
});

Deno.test("RA-TLS: a TLS server presents the certificate and the client verifies its peer", async () => {
  const chain = await sharedChain;
  const identity = await createRaTlsCertificate({
    evidence: async (reportData) => ({
      tee: "sev-snp",
      report: await chain.report(reportData, measurement),
      ark: chain.ark,
      ask: chain.ask,
      vcek: chain.vcek,
    }),
  });
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: identity.certificatePem,
    key: identity.privateKeyPem,
  });
  const served = (async () => {
    const conn = await listener.accept();
    await conn.handshake();
    await conn.write(new TextEncoder().encode("hello from the box"));
    conn.close();
  })();
  const { port } = listener.addr;
  const { socket, verification } = await connectRaTls({
    hostname: "127.0.0.1",
    port,
    trustedArkSha256: [chain.arkSha256],
  });
  // The verified connection is the one the caller keeps: read the server's greeting on it.
  const text = await new Promise<string>((resolve) => {
    let received = "";
    socket.on("data", (chunk: Uint8Array) => received += new TextDecoder().decode(chunk));
    socket.on("end", () => resolve(received));
  });
  const peer = { raw: identity.certificateDer, text };
  await served;
  listener.close();
  assertEquals(peer.text, "hello from the box");
  const result = verification;
  assertEquals(result.measurement, measurement);
  const spki = certificateParts(peer.raw).spki;
  assertEquals(result.publicKeySha256, toHex((await raTlsReportData(spki)).subarray(0, 32)));
});

Deno.test("RA-TLS: a server whose certificate does not verify is refused and disconnected", async () => {
  const identity = await createRaTlsCertificate({
    evidence: (reportData) => Promise.resolve({ tee: "simulated", reportData }),
  });
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: identity.certificatePem,
    key: identity.privateKeyPem,
  });
  const served = listener.accept().then(async (conn) => {
    await conn.handshake().catch(() => {});
    // The client hangs up after the refusal: the read ends instead of waiting forever.
    await conn.read(new Uint8Array(16)).catch(() => null);
    conn.close();
  });
  await assertRejects(
    () => connectRaTls({ hostname: "127.0.0.1", port: listener.addr.port }),
    AttestationError,
    "SIMULATED",
  );
  await served;
  listener.close();
});
