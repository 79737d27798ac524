import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { seal, SealError, unseal } from "./seal.ts";

const rootKey = crypto.getRandomValues(new Uint8Array(32));
const measurement = crypto.getRandomValues(new Uint8Array(48));
const secret = new TextEncoder().encode("db password: hunter2");

Deno.test("seal: opens under the same measurement, refuses another", async () => {
  const blob = await seal(secret, { rootKey, measurement });
  assertEquals(new TextDecoder().decode(blob.subarray(0, 8)), "A3SSEAL1");
  assertEquals(await unseal(blob, { rootKey, measurement }), secret);
  const other = measurement.slice();
  other[0] ^= 1;
  await assertRejects(
    () => unseal(blob, { rootKey, measurement: other }),
    SealError,
    "different measurement",
  );
  const otherKey = rootKey.slice();
  otherKey[31] ^= 1;
  await assertRejects(() => unseal(blob, { rootKey: otherKey, measurement }), SealError);
});

Deno.test("seal: fresh salt and IV each time; tampering and junk are refused", async () => {
  const a = await seal(secret, { rootKey, measurement });
  const b = await seal(secret, { rootKey, measurement });
  assert(a.some((byte, i) => byte !== b[i]), "two seals of the same data differ");
  for (const offset of [10, 45, a.length - 1]) {
    const tampered = a.slice();
    tampered[offset] ^= 0x80;
    await assertRejects(() => unseal(tampered, { rootKey, measurement }), SealError);
  }
  await assertRejects(
    () => unseal(new Uint8Array(80), { rootKey, measurement }),
    SealError,
    "not a sealed blob",
  );
  await assertRejects(
    () => seal(secret, { rootKey: new Uint8Array(8), measurement }),
    SealError,
    "32 bytes",
  );
  await assertRejects(
    () => seal(secret, { rootKey, measurement: new Uint8Array(0) }),
    SealError,
    "measurement",
  );
});
