/**
 * Secret injection: a secret goes into a box's `/run/secrets/<name>` (mode 0400) only after a
 * fresh attestation verifies, and only if that directory is memory-backed inside the box, so the
 * secret never reaches a disk. The order matters: the attestation (with a nonce made here, so an
 * old report cannot be replayed) is checked before anything is written, and any failure leaves
 * the box untouched.
 */
import { A3sError } from "@a3s/common";
import type { AttestationResult } from "./attest.ts";
import { toHex } from "./evidence.ts";

/** Where secrets live inside a box. */
export const SECRETS_DIR = "/run/secrets";
const SECRET_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** Filesystems that keep their files in memory only. */
const MEMORY_FILESYSTEMS = new Set(["tmpfs", "ramfs", "rootfs"]);

/** The box operations injection needs (a `BoxManager` has them). */
export interface SecretTarget {
  /** Writes a file into a running box. */
  copyIn(box: string, data: Uint8Array, guestPath: string, mode: number): Promise<void>;
  /** Reads a file out of a running box. */
  copyOut(box: string, guestPath: string): Promise<Uint8Array>;
}

/** Options for {@linkcode injectSecret}. */
export interface InjectSecretOptions {
  /** The box, by id or name. */
  box: string;
  /** The file name under /run/secrets. */
  name: string;
  /** The secret. */
  value: Uint8Array;
  /** Attests the box's TEE for a nonce (verifying the evidence), or says there is none. */
  attest: (nonce: Uint8Array) => Promise<AttestationResult>;
  /** The launch measurement the box must have; any verified one when unset. */
  expectedMeasurement?: Uint8Array;
  /**
   * The nonce the report must carry: 64 fresh random bytes unless the caller issued its own
   * challenge (a verifier that already holds evidence for it).
   */
  nonce?: Uint8Array;
}

/** What was delivered, and on what evidence. */
export interface InjectedSecret {
  /** The secret's path inside the box. */
  path: string;
  /** The TEE whose attestation allowed it. */
  tee: "sev-snp" | "tdx";
  /** The verified launch measurement (hex). */
  measurement: string;
}

function refused(message: string): A3sError {
  return new A3sError("attestation_refused", `secret not delivered: ${message}`, { status: 403 });
}

/** The filesystem type `path` lives on, from a mount table (`/proc/self/mounts` text). */
export function filesystemOf(mounts: string, path: string): string | undefined {
  let best: { point: string; type: string } | undefined;
  for (const line of mounts.split("\n")) {
    const [, rawPoint, type] = line.split(" ");
    if (!rawPoint || !type) continue;
    // The kernel escapes spaces and other bytes in mount points as octal.
    const point = rawPoint.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
    const inside = point === "/" || path === point || path.startsWith(`${point}/`);
    // The last mount on the longest matching point is the one the path resolves to.
    if (inside && (!best || point.length >= best.point.length)) best = { point, type };
  }
  return best?.type;
}

/** Attests, checks the box's /run/secrets is memory-backed, then writes the secret (0400). */
export async function injectSecret(
  boxes: SecretTarget,
  options: InjectSecretOptions,
): Promise<InjectedSecret> {
  if (!SECRET_NAME.test(options.name)) {
    throw new A3sError(
      "invalid_request",
      `invalid secret name '${options.name}': letters, digits, '_', '.' and '-', up to 128`,
      { status: 400, field: "name" },
    );
  }
  const nonce = options.nonce ?? crypto.getRandomValues(new Uint8Array(64));
  const result = await options.attest(nonce).catch((error: Error) => {
    throw refused(`attestation failed: ${error.message}`);
  });
  if (result.tee === "none") throw refused(result.message);
  if (!result.verified) throw refused(`${result.message} (the box's TEE is simulated)`);
  const reportData = result.tee === "sev-snp" ? result.report.reportData : result.quote.reportData;
  const wanted = new Uint8Array(64);
  wanted.set(nonce.subarray(0, 64));
  if (!wanted.every((byte, i) => byte === reportData[i])) {
    throw refused("the report does not carry this request's nonce");
  }
  const measurement = toHex(result.measurement);
  if (options.expectedMeasurement && measurement !== toHex(options.expectedMeasurement)) {
    throw refused(`the box's measurement ${measurement} is not the expected one`);
  }
  const mounts = new TextDecoder().decode(await boxes.copyOut(options.box, "/proc/self/mounts"));
  const filesystem = filesystemOf(mounts, SECRETS_DIR);
  if (!filesystem || !MEMORY_FILESYSTEMS.has(filesystem)) {
    throw new A3sError(
      "secrets_not_in_memory",
      `secret not delivered: ${SECRETS_DIR} in the box is on ${
        filesystem ?? "no filesystem"
      }, not tmpfs; mount a tmpfs there (for example -v /dev/shm/<dir>:${SECRETS_DIR})`,
      { status: 409, field: "box" },
    );
  }
  const path = `${SECRETS_DIR}/${options.name}`;
  await boxes.copyIn(options.box, options.value, path, 0o400);
  return { path, tee: result.tee, measurement };
}
