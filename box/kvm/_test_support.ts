/** Test helpers: the skip rule for hosts without /dev/kvm. */

let cached: boolean | undefined;

/** Whether /dev/kvm can be opened here; prints one SKIPPED line (once) when it cannot. */
export function kvmAvailable(): boolean {
  if (cached !== undefined) return cached;
  try {
    Deno.openSync("/dev/kvm", { read: true, write: true }).close();
    cached = true;
  } catch (error) {
    console.log(`SKIPPED: KVM tests need /dev/kvm (${(error as Error).message})`);
    cached = false;
  }
  return cached;
}

/** The mappings of this process, for checks that guest RAM was unmapped. */
export function mappedRanges(): Array<[bigint, bigint]> {
  return Deno.readTextFileSync("/proc/self/maps").trim().split("\n").map((line) => {
    const [start, end] = line.split(" ")[0].split("-");
    return [BigInt(`0x${start}`), BigInt(`0x${end}`)];
  });
}
