/**
 * Secret injection into real namespace boxes (bubblewrap): refused without a TEE, for simulated
 * evidence, for another measurement and where /run/secrets is on disk; delivered (0400, in
 * memory) after an SNP report (signed by a chain made for the test, its ARK pinned) verifies
 * through a guest's configfs TSM tree.
 */
import { assert, assertEquals, assertRejects } from "@a3s/common/testing";
import { A3sError } from "@a3s/common";
import { BoxManager } from "../../manager.ts";
import { NamespaceDriver } from "../../drivers/namespace.ts";
import { addBusybox, testHome } from "../../_test_support.ts";
import { attest } from "./attest.ts";
import { filesystemOf, injectSecret } from "./secrets.ts";
import { fakeSnpGuest, type SnpEvidence } from "./_test_guest.ts";
import { testSnpChain } from "./_test_snp_chain.ts";

const secret = new TextEncoder().encode("db-password: hunter2");
// The guest's report, made while the box starts: RSA key generation is the slow part.
const nonce = crypto.getRandomValues(new Uint8Array(64));
const measurement = crypto.getRandomValues(new Uint8Array(48));
const guestEvidence: Promise<SnpEvidence> = testSnpChain().then(async (chain) => ({
  report: await chain.report(nonce, measurement),
  ark: chain.ark,
  ask: chain.ask,
  vcek: chain.vcek,
}));

Deno.test("secrets: the mount table says which filesystem a path is on", () => {
  const mounts = [
    "overlay / overlay rw 0 0",
    "proc /proc proc rw 0 0",
    "tmpfs /run/secrets tmpfs rw 0 0",
    "tmpfs /run/secrets-old tmpfs rw 0 0",
    "/dev/sda1 /data\\040dir ext4 rw 0 0",
  ].join("\n");
  assertEquals(filesystemOf(mounts, "/run/secrets"), "tmpfs");
  assertEquals(filesystemOf(mounts, "/run/secret"), "overlay");
  assertEquals(filesystemOf(mounts, "/data dir/x"), "ext4");
  assertEquals(filesystemOf("overlay / overlay rw 0 0\n", "/run/secrets"), "overlay");
});

Deno.test("secrets: delivered into a real box only after attestation verifies", async () => {
  const home = await testHome();
  const shm = await Deno.makeTempDir({ dir: "/dev/shm", prefix: "a3s-secrets-" });
  const boxes = await BoxManager.open({
    store: home.store,
    images: home.images,
    home: home.home,
    drivers: [new NamespaceDriver({ agentCacheDir: "/tmp/a3s-box-test-agent" })],
  });
  await addBusybox(home.images);
  try {
    const { info } = await boxes.run({
      image: "busybox",
      command: ["sleep", "60"],
      volumes: [{ host: shm, guest: "/run/secrets", readOnly: false }],
    });
    const box = info.id;
    const deliver = (attester: (nonce: Uint8Array) => ReturnType<typeof attest>, more = {}) =>
      injectSecret(boxes, { box, name: "db", value: secret, attest: attester, ...more });

    // This host is no confidential guest: refused, nothing written.
    const none = await assertRejects(() => deliver((nonce) => attest({ nonce })), A3sError);
    assertEquals([none.code, none.status], ["attestation_refused", 403]);
    assert(none.message.includes("no TEE here"), none.message);
    const simulated = await assertRejects(
      () => deliver((nonce) => attest({ nonce, simulate: true })),
      A3sError,
      "SIMULATED",
    );
    assertEquals(simulated.status, 403);
    assertEquals([...Deno.readDirSync(shm)].length, 0);

    // The report verifies (VCEK → ASK → ARK, report signature) for its own report data.
    const evidence = await guestEvidence;
    const fakeGuest = () => fakeSnpGuest(evidence);
    const snp = (guest: string) => (n: Uint8Array) =>
      attest({ nonce: n, root: guest, entryName: "test", trustedArks: [evidence.ark] });
    // A fresh nonce of our own is not what that report carries: refused.
    const replayed = await fakeGuest();
    await assertRejects(() => deliver(snp(replayed)), A3sError, "nonce");
    const wrongMeasurement = await fakeGuest();
    await assertRejects(
      () => deliver(snp(wrongMeasurement), { nonce, expectedMeasurement: new Uint8Array(48) }),
      A3sError,
      "not the expected one",
    );
    assertEquals([...Deno.readDirSync(shm)].length, 0);

    const guest = await fakeGuest();
    const delivered = await deliver(snp(guest), {
      nonce,
      expectedMeasurement: measurement,
    });
    assertEquals([delivered.path, delivered.tee], ["/run/secrets/db", "sev-snp"]);
    assertEquals(await boxes.copyOut(box, "/run/secrets/db"), secret);
    assertEquals(Deno.statSync(`${shm}/db`).mode! & 0o777, 0o400);
    for (const root of [replayed, wrongMeasurement, guest]) {
      await Deno.remove(root, { recursive: true });
    }

    // A box whose /run/secrets would be on its disk layer is refused even with good evidence.
    const { info: plain } = await boxes.run({ image: "busybox", command: ["sleep", "60"] });
    const onDisk = await fakeGuest();
    const error = await assertRejects(
      () =>
        injectSecret(boxes, {
          box: plain.id,
          name: "db",
          value: secret,
          nonce,
          attest: snp(onDisk),
        }),
      A3sError,
      "not tmpfs",
    );
    assertEquals(error.status, 409);
    await Deno.remove(onDisk, { recursive: true });
    await assertRejects(
      () => deliver(snp(onDisk), { name: "../etc/passwd" }),
      A3sError,
      "invalid secret name",
    );
  } finally {
    for (const box of await boxes.list({ all: true })) await boxes.remove(box.id, true);
    boxes.close();
    await home.close();
    await Deno.remove(shm, { recursive: true });
  }
});
