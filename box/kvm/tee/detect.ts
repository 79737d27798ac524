/**
 * TEE detection. In a guest: AMD SEV-SNP exposes /dev/sev-guest and Intel TDX /dev/tdx_guest
 * (the kernel also lists `sev_snp` / `tdx_guest` in the CPU flags it derived from CPUID). On a
 * host: kvm_amd's `sev_snp`/`sev` and kvm_intel's `tdx` parameters say whether KVM will run
 * confidential guests, and the CPU flags (`sev_snp`, `tdx_host_platform`) say whether the part
 * supports them. `root` lets tests point the reads at a fake tree.
 */
import { existsSync as exists } from "../../_exists.ts";

/** What was found. */
export interface TeeDetection {
  kind: "sev-snp" | "tdx" | "none";
  /** Inside a confidential guest, or on a host that can run them. */
  role: "guest" | "host" | "none";
  /** The files and flags that decided it. */
  evidence: string[];
  /** Always false here: detection reads the real machine. Simulated modes say so. */
  simulated: false;
}

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

function cpuFlags(root: string): Set<string> {
  const cpuinfo = readText(`${root}/proc/cpuinfo`) ?? "";
  const line = cpuinfo.split("\n").find((l) => l.startsWith("flags"));
  return new Set(line ? line.split(":")[1].trim().split(/\s+/) : []);
}

function enabled(path: string): boolean {
  const value = readText(path)?.trim();
  return value === "Y" || value === "1";
}

/** Detects a TEE; never throws. */
export function detectTee(options: { root?: string } = {}): Promise<TeeDetection> {
  const root = options.root ?? "";
  const flags = cpuFlags(root);
  const none: TeeDetection = { kind: "none", role: "none", evidence: [], simulated: false };
  if (exists(`${root}/dev/sev-guest`)) {
    return Promise.resolve({
      ...none,
      kind: "sev-snp",
      role: "guest",
      evidence: ["/dev/sev-guest"],
    });
  }
  for (const device of ["/dev/tdx_guest", "/dev/tdx-guest"]) {
    if (exists(`${root}${device}`)) {
      return Promise.resolve({ ...none, kind: "tdx", role: "guest", evidence: [device] });
    }
  }
  if (enabled(`${root}/sys/module/kvm_amd/parameters/sev_snp`) && flags.has("sev_snp")) {
    return Promise.resolve({
      ...none,
      kind: "sev-snp",
      role: "host",
      evidence: ["/sys/module/kvm_amd/parameters/sev_snp=Y", "cpu flag sev_snp"],
    });
  }
  if (enabled(`${root}/sys/module/kvm_intel/parameters/tdx`) && flags.has("tdx_host_platform")) {
    return Promise.resolve({
      ...none,
      kind: "tdx",
      role: "host",
      evidence: ["/sys/module/kvm_intel/parameters/tdx=Y", "cpu flag tdx_host_platform"],
    });
  }
  return Promise.resolve(none);
}
