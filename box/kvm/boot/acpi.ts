/**
 * ACPI tables for a microVM, the way Firecracker describes its machines: an RSDP in the BIOS
 * area (where Linux scans for it, and where PVH's start info and boot_params point), an XSDT, a
 * hardware-reduced FADT, a MADT listing one local APIC per vCPU, the I/O APIC and the PIT's
 * IRQ 0 → GSI 2 override (how Linux brings up more than one vCPU), and a DSDT declaring each
 * virtio-mmio device as `LNRO0005` with its window and interrupt. The DSDT is how Debian's
 * kernel finds the frame port: it is built without `CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES`, so the
 * `virtio_mmio.device=` argument alone finds nothing.
 */
import type { GuestMemory } from "../memory.ts";
import { concatBytes } from "../../_bytes.ts";

/** Where the tables go: the BIOS read-only area Linux scans for "RSD PTR ". */
export const ACPI_BASE = 0xe0000;
const ACPI_LIMIT = 0x100000;
/** The local APIC and I/O APIC addresses KVM's in-kernel irqchip uses. */
const LOCAL_APIC = 0xfee00000;
const IO_APIC = 0xfec00000;
const OEM_ID = "A3SBOX";
const OEM_TABLE_ID = "A3SVMM  ";

/** A virtio-mmio device to declare. */
export interface AcpiVirtioDevice {
  /** The register window's physical address (4 KiB). */
  base: number;
  /** Its interrupt (a GSI, routed through the I/O APIC). */
  irq: number;
}

/** What the tables describe. */
export interface AcpiMachine {
  /** vCPUs; APIC IDs are 0..vcpus-1, the first one boots. */
  vcpus: number;
  /** virtio-mmio devices. */
  virtio: AcpiVirtioDevice[];
}

/** The tables and where each one went. */
export interface AcpiTables {
  rsdp: number;
  xsdt: number;
  fadt: number;
  madt: number;
  dsdt: number;
  /** The bytes of each table, by signature (RSDP included), as written. */
  bytes: Record<"RSDP" | "XSDT" | "FACP" | "APIC" | "DSDT", Uint8Array>;
}

const ascii = (text: string) => new TextEncoder().encode(text);

/** The byte that makes `bytes` sum to zero. */
export function checksum(bytes: Uint8Array): number {
  return (256 - (bytes.reduce((sum, b) => sum + b, 0) & 0xff)) & 0xff;
}

/** A table: the 36-byte SDT header, then `body`, with the checksum filled in. */
function table(signature: string, revision: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(36 + body.length);
  const view = new DataView(out.buffer);
  out.set(ascii(signature), 0);
  view.setUint32(4, out.length, true);
  out[8] = revision;
  out.set(ascii(OEM_ID), 10);
  out.set(ascii(OEM_TABLE_ID), 16);
  view.setUint32(24, 1, true); // OEM revision
  out.set(ascii("A3S "), 28); // creator ID
  view.setUint32(32, 1, true); // creator revision
  out.set(body, 36);
  out[9] = checksum(out);
  return out;
}

/** AML PkgLength: the length of what follows the opcode, itself included. */
function pkgLength(contentLength: number): Uint8Array {
  for (let bytes = 1; bytes <= 4; bytes++) {
    const total = contentLength + bytes;
    if (bytes === 1 && total < 0x40) return Uint8Array.of(total);
    if (bytes > 1 && total < 2 ** (4 + 8 * (bytes - 1))) {
      const out = new Uint8Array(bytes);
      out[0] = ((bytes - 1) << 6) | (total & 0x0f);
      for (let i = 1; i < bytes; i++) out[i] = (total >> (4 + 8 * (i - 1))) & 0xff;
      return out;
    }
  }
  throw new RangeError("an AML package is too large");
}

const NAME_OP = 0x08;
const SCOPE_OP = 0x10;
const BUFFER_OP = 0x11;
const STRING_PREFIX = 0x0d;
const BYTE_PREFIX = 0x0a;
const WORD_PREFIX = 0x0b;
const DEVICE_OP = [0x5b, 0x82];

function amlName(name: string, value: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(NAME_OP), ascii(name), value);
}

function amlInteger(value: number): Uint8Array {
  if (value === 0) return Uint8Array.of(0x00);
  if (value === 1) return Uint8Array.of(0x01);
  if (value < 0x100) return Uint8Array.of(BYTE_PREFIX, value);
  if (value < 0x10000) return Uint8Array.of(WORD_PREFIX, value & 0xff, value >> 8);
  throw new RangeError("integer too large for this encoder");
}

function amlBuffer(bytes: Uint8Array): Uint8Array {
  const size = amlInteger(bytes.length);
  const content = concatBytes(size, bytes);
  return concatBytes(Uint8Array.of(BUFFER_OP), pkgLength(content.length), content);
}

/** The _CRS of a virtio-mmio device: its 4 KiB window and its edge, active-high interrupt. */
function virtioResources(device: AcpiVirtioDevice): Uint8Array {
  const memory = new Uint8Array(12);
  const mv = new DataView(memory.buffer);
  memory[0] = 0x86; // Memory32Fixed
  mv.setUint16(1, 9, true);
  memory[3] = 1; // read-write
  mv.setUint32(4, device.base, true);
  mv.setUint32(8, 0x1000, true);
  const interrupt = new Uint8Array(9);
  const iv = new DataView(interrupt.buffer);
  interrupt[0] = 0x89; // Extended Interrupt
  iv.setUint16(1, 6, true);
  interrupt[3] = 0b0011; // consumer, edge-triggered, active-high, exclusive
  interrupt[4] = 1; // one interrupt
  iv.setUint32(5, device.irq, true);
  const end = Uint8Array.of(0x79, 0x00); // end tag; a zero checksum means "not checked"
  return concatBytes(memory, interrupt, end);
}

function virtioDevice(index: number, device: AcpiVirtioDevice): Uint8Array {
  const name = `V${index.toString(16).toUpperCase().padStart(3, "0")}`;
  const body = concatBytes(
    ascii(name),
    amlName("_HID", concatBytes(Uint8Array.of(STRING_PREFIX), ascii("LNRO0005"), Uint8Array.of(0))),
    amlName("_UID", amlInteger(index)),
    amlName("_CRS", amlBuffer(virtioResources(device))),
  );
  return concatBytes(Uint8Array.of(...DEVICE_OP), pkgLength(body.length), body);
}

function dsdt(machine: AcpiMachine): Uint8Array {
  const devices = concatBytes(...machine.virtio.map((d, i) => virtioDevice(i, d)));
  const scope = concatBytes(Uint8Array.of(0x5c), ascii("_SB_"), devices); // \_SB_
  return table("DSDT", 2, concatBytes(Uint8Array.of(SCOPE_OP), pkgLength(scope.length), scope));
}

function madt(machine: AcpiMachine): Uint8Array {
  const entries: Uint8Array[] = [];
  const header = new Uint8Array(8);
  new DataView(header.buffer).setUint32(0, LOCAL_APIC, true);
  new DataView(header.buffer).setUint32(4, 1, true); // PCAT_COMPAT: there are 8259s too
  for (let id = 0; id < machine.vcpus; id++) {
    // Processor Local APIC: type 0, length 8, processor UID, APIC ID, flags (enabled).
    const lapic = Uint8Array.of(0, 8, id, id, 1, 0, 0, 0);
    entries.push(lapic);
  }
  const ioapic = new Uint8Array(12);
  const io = new DataView(ioapic.buffer);
  ioapic[0] = 1; // I/O APIC
  ioapic[1] = 12;
  ioapic[2] = machine.vcpus; // an I/O APIC ID after the local APICs'
  io.setUint32(4, IO_APIC, true);
  io.setUint32(8, 0, true); // GSI base
  entries.push(ioapic);
  // The PIT drives ISA IRQ 0, wired to the I/O APIC's pin 2 as on every PC (KVM does the same).
  const override = new Uint8Array(10);
  override[0] = 2;
  override[1] = 10;
  override[2] = 0; // ISA bus
  override[3] = 0; // IRQ 0
  new DataView(override.buffer).setUint32(4, 2, true); // GSI 2
  entries.push(override);
  return table("APIC", 5, concatBytes(header, ...entries));
}

function fadt(dsdtAddress: number): Uint8Array {
  const body = new Uint8Array(276 - 36);
  const view = new DataView(body.buffer);
  const at = (offset: number) => offset - 36;
  view.setUint32(at(40), dsdtAddress, true); // DSDT
  // IAPC_BOOT_ARCH: no VGA, no MSI, no ASPM controls; an i8042 is there (it resets the VM).
  view.setUint16(at(109), (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4), true);
  view.setUint32(at(112), 1 << 20, true); // HW_REDUCED_ACPI: no PM timer, no fixed hardware
  body[at(131)] = 3; // FADT minor version: ACPI 6.3
  view.setBigUint64(at(140), BigInt(dsdtAddress), true); // X_DSDT
  body[at(268)] = 0; // hypervisor vendor identity stays zero
  return table("FACP", 6, body);
}

function xsdt(addresses: number[]): Uint8Array {
  const body = new Uint8Array(addresses.length * 8);
  addresses.forEach((a, i) => new DataView(body.buffer).setBigUint64(i * 8, BigInt(a), true));
  return table("XSDT", 1, body);
}

function rsdp(xsdtAddress: number): Uint8Array {
  const out = new Uint8Array(36);
  const view = new DataView(out.buffer);
  out.set(ascii("RSD PTR "), 0);
  out.set(ascii(OEM_ID), 9);
  out[15] = 2; // ACPI 2.0+
  view.setUint32(20, 36, true);
  view.setBigUint64(24, BigInt(xsdtAddress), true);
  out[8] = checksum(out.subarray(0, 20));
  out[32] = checksum(out);
  return out;
}

const align = (n: number) => Math.ceil(n / 16) * 16;

/** Builds the tables for `machine` and writes them at {@linkcode ACPI_BASE}. */
export function writeAcpiTables(memory: GuestMemory, machine: AcpiMachine): AcpiTables {
  if (!Number.isInteger(machine.vcpus) || machine.vcpus < 1 || machine.vcpus > 254) {
    throw new RangeError(`vcpus must be 1 to 254, got ${machine.vcpus}`);
  }
  // RSDP first, on a 16-byte boundary where Linux's scan looks; the rest follow.
  const rsdpAt = ACPI_BASE;
  const dsdtBytes = dsdt(machine);
  const dsdtAt = align(rsdpAt + 36);
  const fadtBytes = fadt(dsdtAt);
  const fadtAt = align(dsdtAt + dsdtBytes.length);
  const madtBytes = madt(machine);
  const madtAt = align(fadtAt + fadtBytes.length);
  const xsdtAt = align(madtAt + madtBytes.length);
  const xsdtBytes = xsdt([fadtAt, madtAt]);
  const rsdpBytes = rsdp(xsdtAt);
  if (xsdtAt + xsdtBytes.length > ACPI_LIMIT) throw new RangeError("the ACPI tables do not fit");
  memory.write(rsdpAt, rsdpBytes);
  memory.write(dsdtAt, dsdtBytes);
  memory.write(fadtAt, fadtBytes);
  memory.write(madtAt, madtBytes);
  memory.write(xsdtAt, xsdtBytes);
  return {
    rsdp: rsdpAt,
    xsdt: xsdtAt,
    fadt: fadtAt,
    madt: madtAt,
    dsdt: dsdtAt,
    bytes: { RSDP: rsdpBytes, XSDT: xsdtBytes, FACP: fadtBytes, APIC: madtBytes, DSDT: dsdtBytes },
  };
}
