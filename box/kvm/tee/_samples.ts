/**
 * Test support: the real public SEV-SNP and TDX samples (AMD's Milan/Genoa roots, a Milan VCEK
 * and report, a TDX v4 quote). They came from other public repositories, so they are kept out of
 * this one, in a shared data folder (see fixtures/README.md). This module finds that folder,
 * checks each file against the SHA-256 pinned here, and registers the tests that need them:
 * those run when the samples are present and are ignored, with a visible SKIPPED line, when not.
 * A folder that is there but holds the wrong bytes fails those tests instead of skipping them.
 */
import { pemToDer } from "./der.ts";
import { toHex } from "./evidence.ts";

/** The samples' SHA-256, so a test never runs on bytes other than the published ones. */
const SAMPLE_SHA256 = {
  "ark_milan.pem": "8c109952166431ffad8cb9a3d54f3d20ffbbb58164f0d54be3457bf0ece9e0d8",
  "ask_milan.pem": "8da3a65af1cb7cb90a21fac78431a2431a9ee7811f48c36569c53fb80ad31fee",
  "ark_genoa.pem": "96bff94e97e2b7ddf4bf3b9b7f780f94a46b8c51f52abfdcc283be7df36ce405",
  "vcek_milan.der": "3bbfb6ee259f75a95d13168cfdf2e034181bb93c7c016825731cbe8ea16c95e1",
  "report_milan.hex": "3d956e9104969a038031a6b63dd6c4b60000619d37702065994f7da76f88ae7d",
  "tdx_quote_v4.bin": "d9acc8bc3417eb1c449580ce7886d263cf2875bb9e2619c981553a7117160dbf",
} as const;
type SampleName = keyof typeof SAMPLE_SHA256;

/** The line printed when the real-sample tests are skipped. */
export const SKIPPED_LINE =
  "SKIPPED: real SEV-SNP/TDX samples not found (see box/kvm/tee/fixtures/README.md)";

/** The real samples, decoded. */
export interface RealSamples {
  /** AMD's ARK for Milan (DER). */
  ark: Uint8Array;
  /** AMD's ASK for Milan (DER), signed by the ARK. */
  ask: Uint8Array;
  /** AMD's ARK for Genoa (DER): a real root that must not validate the Milan chain. */
  genoaArk: Uint8Array;
  /** A Milan chip's VCEK certificate (DER), signed by the ASK. */
  vcek: Uint8Array;
  /** A 1184-byte SNP report from that chip, signed by the VCEK. */
  snpReport: Uint8Array;
  /** A TDX v4 quote with its QE report and PCK chain up to the Intel SGX Root CA. */
  tdxQuote: Uint8Array;
}

/** Where the samples were looked for and what was found. */
type Lookup =
  | { found: true; samples: RealSamples }
  | { found: false }
  | { found: true; error: string };

/** The folders searched, in order: the explicit setting, then inside and beside the checkout. */
function candidateFolders(): { explicit: string | undefined; folders: string[] } {
  const explicit = Deno.env.get("A3S_TEE_SAMPLES") || undefined;
  const checkout = new URL("../../../", import.meta.url).pathname;
  return {
    explicit,
    folders: explicit ? [explicit] : [
      `${checkout}shared/box/tee`,
      `${checkout}../shared/box/tee`,
    ],
  };
}

function hasAllSamples(folder: string): boolean {
  return Object.keys(SAMPLE_SHA256).every((name) => {
    try {
      return Deno.statSync(`${folder}/${name}`).isFile;
    } catch {
      return false;
    }
  });
}

async function readChecked(folder: string): Promise<Record<SampleName, Uint8Array> | string> {
  const files = {} as Record<SampleName, Uint8Array>;
  for (const [name, want] of Object.entries(SAMPLE_SHA256) as Array<[SampleName, string]>) {
    const bytes = await Deno.readFile(`${folder}/${name}`);
    const got = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
    if (got !== want) {
      return `${folder}/${name} has SHA-256 ${got}, expected ${want}: not the published sample`;
    }
    files[name] = bytes;
  }
  return files;
}

async function lookUp(): Promise<Lookup> {
  const { explicit, folders } = candidateFolders();
  const folder = folders.find(hasAllSamples);
  if (!folder) {
    // A folder named explicitly must hold the samples: a typo should not pass as a skip.
    return explicit
      ? { found: true, error: `A3S_TEE_SAMPLES=${explicit} does not hold all six samples` }
      : { found: false };
  }
  const files = await readChecked(folder);
  if (typeof files === "string") return { found: true, error: files };
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return {
    found: true,
    samples: {
      ark: pemToDer(text(files["ark_milan.pem"])),
      ask: pemToDer(text(files["ask_milan.pem"])),
      genoaArk: pemToDer(text(files["ark_genoa.pem"])),
      vcek: files["vcek_milan.der"],
      snpReport: Uint8Array.from(
        text(files["report_milan.hex"]).trim().match(/../g)!,
        (h) => parseInt(h, 16),
      ),
      tdxQuote: files["tdx_quote_v4.bin"],
    },
  };
}

const lookup = await lookUp();
if (!lookup.found) console.log(SKIPPED_LINE);

/**
 * Registers a test that needs the real samples: it runs when they are present (and fails when
 * they are present but altered), and is ignored, named as skipped, when they are absent.
 */
export function realSampleTest(
  name: string,
  fn: (samples: RealSamples) => void | Promise<void>,
): void {
  Deno.test({
    name: lookup.found ? `real samples: ${name}` : `real samples (SKIPPED, not found): ${name}`,
    ignore: !lookup.found,
    async fn() {
      if (lookup.found && "error" in lookup) throw new Error(lookup.error);
      if (lookup.found && "samples" in lookup) await fn(lookup.samples);
    },
  });
}
