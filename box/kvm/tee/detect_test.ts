import { assertEquals } from "@a3s/common/testing";
import { detectTee } from "./detect.ts";

async function fakeRoot(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "a3s-tee-" });
  for (const [path, content] of Object.entries(files)) {
    const full = `${root}${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, content);
  }
  return root;
}

const CPUINFO = (flags: string) => `processor\t: 0\nflags\t\t: fpu vme ${flags}\n`;

Deno.test("TEE detection: guests, hosts, and a clean none", async () => {
  const cases: Array<[Record<string, string>, string, string]> = [
    [{ "/dev/sev-guest": "" }, "sev-snp", "guest"],
    [{ "/dev/tdx_guest": "" }, "tdx", "guest"],
    [
      {
        "/sys/module/kvm_amd/parameters/sev_snp": "Y\n",
        "/proc/cpuinfo": CPUINFO("sev sev_es sev_snp"),
      },
      "sev-snp",
      "host",
    ],
    [
      {
        "/sys/module/kvm_intel/parameters/tdx": "Y\n",
        "/proc/cpuinfo": CPUINFO("tdx_host_platform"),
      },
      "tdx",
      "host",
    ],
    // The module allows SNP but the CPU does not have it: no TEE.
    [
      { "/sys/module/kvm_amd/parameters/sev_snp": "Y\n", "/proc/cpuinfo": CPUINFO("sev") },
      "none",
      "none",
    ],
    [
      { "/sys/module/kvm_amd/parameters/sev_snp": "N\n", "/proc/cpuinfo": CPUINFO("sev_snp") },
      "none",
      "none",
    ],
    [{}, "none", "none"],
  ];
  for (const [files, kind, role] of cases) {
    const root = await fakeRoot(files);
    try {
      const found = await detectTee({ root });
      assertEquals(
        [found.kind, found.role, found.simulated],
        [kind, role, false],
        JSON.stringify(files),
      );
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  }
});

Deno.test("TEE detection on this host answers without throwing", async () => {
  const found = await detectTee();
  assertEquals(["sev-snp", "tdx", "none"].includes(found.kind), true);
  if (found.kind === "none") assertEquals(found.evidence, []);
});
