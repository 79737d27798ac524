/**
 * The ACPI tables, checked two ways: by walking them as Linux does (scan the BIOS area for the
 * RSDP, follow the XSDT, check every checksum) and, where acpica-tools is installed, by the
 * reference disassembler (iasl), which must decode the MADT's APICs and override, the FADT's
 * hardware-reduced flag and the DSDT's virtio-mmio device without a complaint.
 */
import { assert, assertEquals, assertThrows } from "@a3s/common/testing";
import { GuestMemory } from "../memory.ts";
import { ACPI_BASE, writeAcpiTables } from "./acpi.ts";

const machine = { vcpus: 4, virtio: [{ base: 0xd0000000, irq: 5 }, { base: 0xd0001000, irq: 6 }] };

function sum(bytes: Uint8Array): number {
  return bytes.reduce((s, b) => s + b, 0) & 0xff;
}

Deno.test("ACPI: found and walked the way Linux does, every checksum zero", () => {
  const memory = GuestMemory.allocate(2 * 1024 * 1024);
  try {
    const tables = writeAcpiTables(memory, machine);
    let rsdp = -1;
    for (let at = 0xe0000; at < 0x100000; at += 16) {
      if (new TextDecoder().decode(memory.read(at, 8)) === "RSD PTR ") {
        rsdp = at;
        break;
      }
    }
    assertEquals(rsdp, ACPI_BASE);
    const rsdpBytes = memory.read(rsdp, 36);
    assertEquals([sum(rsdpBytes.subarray(0, 20)), sum(rsdpBytes)], [0, 0]);
    const xsdt = Number(new DataView(rsdpBytes.buffer).getBigUint64(24, true));
    const header = (at: number) => {
      const length = new DataView(memory.read(at + 4, 4).buffer).getUint32(0, true);
      const bytes = memory.read(at, length);
      assertEquals(sum(bytes), 0, `checksum of the table at 0x${at.toString(16)}`);
      return { signature: new TextDecoder().decode(bytes.subarray(0, 4)), bytes };
    };
    const x = header(xsdt);
    assertEquals(x.signature, "XSDT");
    const entries = (x.bytes.length - 36) / 8;
    const signatures = [];
    for (let i = 0; i < entries; i++) {
      const address = Number(new DataView(x.bytes.buffer).getBigUint64(36 + i * 8, true));
      signatures.push(header(address).signature);
    }
    assertEquals(signatures, ["FACP", "APIC"]);
    const fadt = header(tables.fadt).bytes;
    const dsdt = Number(new DataView(fadt.buffer).getBigUint64(140, true));
    assertEquals(header(dsdt).signature, "DSDT");
    const madt = header(tables.madt).bytes;
    // One enabled local APIC per vCPU, APIC IDs 0..3.
    const lapics = [];
    for (let at = 44; at < madt.length; at += madt[at + 1]) {
      if (madt[at] === 0) lapics.push([madt[at + 3], madt[at + 4]]);
    }
    assertEquals(lapics, [[0, 1], [1, 1], [2, 1], [3, 1]]);
  } finally {
    memory.free();
  }
});

Deno.test("ACPI: a machine that cannot be described is refused", () => {
  const memory = GuestMemory.allocate(2 * 1024 * 1024);
  try {
    assertThrows(() => writeAcpiTables(memory, { vcpus: 0, virtio: [] }), RangeError);
    assertThrows(() => writeAcpiTables(memory, { vcpus: 255, virtio: [] }), RangeError);
  } finally {
    memory.free();
  }
});

const iasl = await new Deno.Command("iasl", { args: ["-v"], stdout: "null", stderr: "null" })
  .output().then((o) => o.success, () => false);
if (!iasl) console.log("SKIPPED: ACPI tables through iasl (apt-get install acpica-tools)");

Deno.test(
  { name: "ACPI: the reference disassembler decodes every table", ignore: !iasl },
  async () => {
    const memory = GuestMemory.allocate(2 * 1024 * 1024);
    const dir = await Deno.makeTempDir({ prefix: "a3s-acpi-" });
    try {
      const tables = writeAcpiTables(memory, machine);
      const decoded: Record<string, string> = {};
      for (const name of ["DSDT", "APIC", "FACP", "XSDT"] as const) {
        const file = `${dir}/${name.toLowerCase()}.dat`;
        await Deno.writeFile(file, tables.bytes[name]);
        const out = await new Deno.Command("iasl", {
          args: ["-d", file],
          stdout: "piped",
          stderr: "piped",
        })
          .output();
        const log = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
        assert(out.success, log);
        assert(!/error|warning|incorrect checksum/i.test(log), log);
        decoded[name] = await Deno.readTextFile(file.replace(/\.dat$/, ".dsl"));
      }
      assert(decoded.DSDT.includes('Name (_HID, "LNRO0005")'));
      assert(decoded.DSDT.includes("0xD0001000,         // Address Base"));
      assert(
        /Interrupt \(ResourceConsumer, Edge, ActiveHigh, Exclusive[^)]*\)\s*\{\s*0x00000006/.test(
          decoded.DSDT,
        ),
      );
      assertEquals(decoded.APIC.match(/\[Processor Local APIC\]/g)?.length, 4);
      assert(decoded.APIC.includes("[Interrupt Source Override]"));
      assert(/Address : FEC00000/.test(decoded.APIC));
      assert(/Hardware Reduced \(V5\) : 1/.test(decoded.FACP));
      assert(
        decoded.XSDT.includes(
          `ACPI Table Address   0 : ${tables.fadt.toString(16).toUpperCase().padStart(16, "0")}`,
        ),
      );
    } finally {
      memory.free();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
