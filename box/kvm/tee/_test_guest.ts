/**
 * Test support: a fake confidential-guest tree (/dev node, configfs TSM report entry) that serves
 * a given SNP report and certificate table or TDX quote, so the attestation path reads exactly
 * what a guest kernel would hand it. The evidence comes from the caller: a chain made for the
 * test (_test_snp_chain.ts, _test_tdx_quote.ts) or the real public samples (_samples.ts).
 */

function guidBytes(guid: string): Uint8Array {
  const hex = guid.replaceAll("-", "");
  const bytes = Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));
  bytes.subarray(0, 4).reverse();
  bytes.subarray(4, 6).reverse();
  bytes.subarray(6, 8).reverse();
  return bytes;
}

/** The SNP certificate table the host hands the guest (GUID-tagged DER certificates). */
export function certTable(entries: Array<[string, Uint8Array]>): Uint8Array {
  const header = (entries.length + 1) * 24;
  const total = header + entries.reduce((sum, [, der]) => sum + der.length, 0);
  const table = new Uint8Array(total);
  const view = new DataView(table.buffer);
  let offset = header;
  entries.forEach(([guid, der], i) => {
    table.set(guidBytes(guid), i * 24);
    view.setUint32(i * 24 + 16, offset, true);
    view.setUint32(i * 24 + 20, der.length, true);
    table.set(der, offset);
    offset += der.length;
  });
  return table;
}

/** A temporary root with `device` and a TSM report entry named "test" serving the blobs. */
export async function fakeGuest(
  device: string,
  provider: string,
  outblob: Uint8Array,
  auxblob?: Uint8Array,
): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "a3s-attest-" });
  await Deno.mkdir(`${root}/dev`);
  await Deno.writeTextFile(`${root}${device}`, "");
  const entry = `${root}/sys/kernel/config/tsm/report/test`;
  await Deno.mkdir(entry, { recursive: true });
  await Deno.writeTextFile(`${entry}/provider`, `${provider}\n`);
  await Deno.writeFile(`${entry}/outblob`, outblob);
  if (auxblob) await Deno.writeFile(`${entry}/auxblob`, auxblob);
  return root;
}

/** The GUIDs of the SNP certificate table's entries. */
export const SNP_CERT_GUIDS = {
  vcek: "63da758d-e664-4564-adc5-f4b93be8accd",
  ask: "4ab7b379-bbac-4fe4-a02f-05aef327c782",
  ark: "c0b406a4-a803-4952-9743-3fb6014cd0ae",
} as const;

/** An SNP report with the certificates that vouch for it. */
export interface SnpEvidence {
  report: Uint8Array;
  vcek: Uint8Array;
  ask: Uint8Array;
  ark: Uint8Array;
}

/** A fake SNP guest serving `evidence.report` with its certificate table (VCEK, ASK, ARK). */
export function fakeSnpGuest(evidence: SnpEvidence): Promise<string> {
  const table = certTable([
    [SNP_CERT_GUIDS.vcek, evidence.vcek],
    [SNP_CERT_GUIDS.ask, evidence.ask],
    [SNP_CERT_GUIDS.ark, evidence.ark],
  ]);
  return fakeGuest("/dev/sev-guest", "sev_guest", evidence.report, table);
}
