/**
 * Attestation from inside a confidential guest, through the kernel's configfs TSM interface
 * (/sys/kernel/config/tsm/report, Linux 6.7+), which serves both SEV-SNP (`sev_guest`) and TDX
 * (`tdx_guest`): create a report entry, write the 64-byte nonce to `inblob`, read the signed
 * `outblob` (an SNP report or a TDX quote) and, for SNP, the `auxblob` certificate table (VCEK,
 * ASK, ARK). The result is verified before it is returned: SNP against the ARK the caller trusts,
 * TDX up to the root the caller trusts (Intel's pinned root by default). Where there is no TEE
 * the answer says so; a simulated answer is marked simulated and never verified.
 */
import { detectTee } from "./detect.ts";
import { AttestationError } from "./snp.ts";
import {
  type Evidence,
  reportDataOf,
  SIMULATED_MEASUREMENT,
  toHex,
  type VerifiedEvidence,
  verifyEvidence,
} from "./evidence.ts";

/** What `box attest` and the attestation route return. */
export type AttestationResult =
  | { tee: "none"; simulated: false; verified: false; message: string }
  | (VerifiedEvidence & { verified: true; simulated: false; evidence: Evidence })
  | {
    tee: "simulated";
    simulated: true;
    verified: false;
    message: string;
    measurement: Uint8Array;
    reportData: Uint8Array;
    evidence: Evidence;
  };

/** Options for {@linkcode attest}. */
export interface AttestOptions {
  /** Up to 64 bytes the report must carry (a verifier's fresh nonce). */
  nonce: Uint8Array;
  /** Development mode: answer with a report that says SIMULATED and proves nothing. */
  simulate?: boolean;
  /** The ARKs (DER) accepted for SEV-SNP; AMD's published roots when unset. */
  trustedArks?: Uint8Array[];
  /** The root certificates (DER) accepted atop a TDX PCK chain; Intel's SGX Root CA when unset. */
  trustedTdxRoots?: Uint8Array[];
  /** The launch measurement the report must carry. */
  expectedMeasurement?: Uint8Array;
  /** Where configfs and /dev live (tests point this at a fake tree). */
  root?: string;
  /** The TSM report entry's name; a fresh random one by default. */
  entryName?: string;
}

/** The message every simulated answer carries. */
export const SIMULATED_MESSAGE =
  "SIMULATED attestation: no hardware root of trust; never accept it as evidence";

const TSM_REPORTS = "/sys/kernel/config/tsm/report";
const GUID = {
  vcek: "63da758d-e664-4564-adc5-f4b93be8accd",
  ask: "4ab7b379-bbac-4fe4-a02f-05aef327c782",
  ark: "c0b406a4-a803-4952-9743-3fb6014cd0ae",
} as const;

function guidText(bytes: Uint8Array): string {
  const hex = (from: number, to: number, reverse: boolean) => {
    const part = [...bytes.subarray(from, to)];
    return (reverse ? part.reverse() : part).map((b) => b.toString(16).padStart(2, "0")).join("");
  };
  // A GUID's first three fields are little-endian.
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${
    hex(10, 16, false)
  }`;
}

/** Splits the SNP certificate table (GUID, offset, length entries; a zero GUID ends it). */
export function parseSnpCertTable(table: Uint8Array): Map<string, Uint8Array> {
  const view = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const certs = new Map<string, Uint8Array>();
  for (let at = 0; at + 24 <= table.length; at += 24) {
    const guid = table.subarray(at, at + 16);
    if (guid.every((b) => b === 0)) break;
    const offset = view.getUint32(at + 16, true);
    const length = view.getUint32(at + 20, true);
    if (offset + length > table.length) throw new Error("a certificate runs past the table");
    certs.set(guidText(guid), table.slice(offset, offset + length));
  }
  return certs;
}

/** There is no confidential guest here: the one-line reason. */
export async function noTeeReason(root = ""): Promise<string | undefined> {
  const tee = await detectTee({ root });
  if (tee.role === "guest") return undefined;
  return tee.role === "host"
    ? `no TEE here: this is a ${tee.kind} host, not a confidential guest`
    : "no TEE here: neither /dev/sev-guest nor /dev/tdx_guest exists";
}

/**
 * Asks this confidential guest's hardware for evidence binding `reportData`, through configfs
 * TSM; throws when this is not a confidential guest (check {@linkcode noTeeReason} first).
 */
export async function collectEvidence(
  reportData: Uint8Array,
  options: { root?: string; entryName?: string } = {},
): Promise<Evidence> {
  const root = options.root ?? "";
  const reason = await noTeeReason(root);
  if (reason) throw new AttestationError(reason);
  const reports = `${root}${TSM_REPORTS}`;
  const entry = `${reports}/${options.entryName ?? `a3s-${crypto.randomUUID()}`}`;
  await Deno.mkdir(entry, { recursive: true });
  try {
    await Deno.writeFile(`${entry}/inblob`, reportDataOf(reportData));
    const provider = (await Deno.readTextFile(`${entry}/provider`)).trim();
    const outblob = await Deno.readFile(`${entry}/outblob`);
    if (provider === "sev_guest") {
      const certs = parseSnpCertTable(await Deno.readFile(`${entry}/auxblob`));
      const vcek = certs.get(GUID.vcek);
      const ask = certs.get(GUID.ask);
      const ark = certs.get(GUID.ark);
      if (!vcek || !ask || !ark) {
        throw new AttestationError("the host did not supply the VCEK, ASK and ARK");
      }
      return { tee: "sev-snp", report: outblob, vcek, ask, ark };
    }
    if (provider === "tdx_guest") return { tee: "tdx", quote: outblob };
    throw new AttestationError(`unknown TSM provider ${provider}`);
  } finally {
    // configfs entries go with rmdir; a plain directory (a test tree) needs its files removed.
    await Deno.remove(entry).catch(() => Deno.remove(entry, { recursive: true })).catch(() => {});
  }
}

async function sha256Hex(der: Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", der.slice())));
}

/** Gets and verifies an attestation report, or says there is no TEE here. */
export async function attest(options: AttestOptions): Promise<AttestationResult> {
  const nonce = reportDataOf(options.nonce);
  if (options.simulate) {
    return {
      tee: "simulated",
      simulated: true,
      verified: false,
      message: SIMULATED_MESSAGE,
      measurement: SIMULATED_MEASUREMENT,
      reportData: nonce,
      evidence: { tee: "simulated", reportData: nonce },
    };
  }
  const reason = await noTeeReason(options.root ?? "");
  if (reason) return { tee: "none", simulated: false, verified: false, message: reason };
  const evidence = await collectEvidence(nonce, options);
  const trustedArkSha256 = options.trustedArks
    ? await Promise.all(options.trustedArks.map(sha256Hex))
    : undefined;
  const trustedTdxRootSha256 = options.trustedTdxRoots
    ? await Promise.all(options.trustedTdxRoots.map(sha256Hex))
    : undefined;
  const verified = await verifyEvidence(evidence, {
    reportData: nonce,
    trustedArkSha256,
    trustedTdxRootSha256,
    expectedMeasurement: options.expectedMeasurement,
  });
  if (verified.simulated) throw new AttestationError("simulated evidence from real hardware");
  return { ...verified, verified: true, evidence };
}
