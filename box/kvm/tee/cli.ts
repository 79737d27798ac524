/**
 * The TEE commands of `a3s box`: `attest`, `seal`, `unseal` and `inject-secret`. Each declares
 * its own flags; `box/cli.ts` parses them and opens the runtime. A refusal (no TEE, evidence that
 * does not verify, another measurement) prints one line and exits 1; bad usage exits 2.
 */
import { A3sError, UsageError } from "@a3s/common";
import type { GroupCommand } from "../../cli_groups.ts";
import { attest, collectEvidence } from "./attest.ts";
import { connectRaTls, createRaTlsCertificate } from "./ratls.ts";
import { AttestationError } from "./snp.ts";
import { fromHex, toHex } from "./evidence.ts";
import { attestationJson, attestationText, plain } from "./render.ts";
import { seal, SealError, unseal } from "./seal.ts";
import { injectSecret } from "./secrets.ts";

function hexOption(values: Record<string, unknown>, name: string): Uint8Array | undefined {
  const text = values[name] as string | undefined;
  if (text === undefined) return undefined;
  try {
    const bytes = fromHex(text);
    if (bytes.length === 0) throw new RangeError("empty");
    return bytes;
  } catch {
    throw new UsageError(`invalid --${name}: expected hex bytes`);
  }
}

async function readInput(path: string | undefined): Promise<Uint8Array> {
  if (path === undefined || path === "-") {
    return new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
  }
  try {
    return await Deno.readFile(path);
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

async function writeOutput(path: string | undefined, data: Uint8Array): Promise<void> {
  if (path === undefined || path === "-") {
    let written = 0;
    while (written < data.length) written += await Deno.stdout.write(data.subarray(written));
    return;
  }
  await Deno.writeFile(path, data, { mode: 0o600 });
}

/** The measurement to seal to: the flag's, or this confidential guest's own, attested now. */
async function sealMeasurement(values: Record<string, unknown>): Promise<Uint8Array> {
  const given = hexOption(values, "measurement");
  if (given) return given;
  const result = await attest({ nonce: crypto.getRandomValues(new Uint8Array(64)) });
  if (result.tee === "none" || !result.verified) {
    throw new UsageError("--measurement HEX is required (no TEE here to take it from)");
  }
  return result.measurement;
}

async function sealKeys(values: Record<string, unknown>) {
  const measurement = await sealMeasurement(values);
  const keyFile = values["key-file"] as string | undefined;
  if (!keyFile) throw new UsageError("--key-file FILE is required (32 or more bytes)");
  const rootKey = await readInput(keyFile);
  if (rootKey.length < 32) throw new UsageError(`--key-file ${keyFile} holds under 32 bytes`);
  return { measurement, rootKey };
}

const SEAL_OPTIONS = {
  measurement: { type: "string" },
  "key-file": { type: "string" },
  input: { type: "string", short: "i" },
  output: { type: "string", short: "o" },
} as const;

/** `attest`, `seal`, `unseal` and `inject-secret`, in `GROUP_COMMANDS`' shape. */
export const TEE_COMMANDS: Record<string, GroupCommand> = {
  attest: {
    options: {
      nonce: { type: "string" },
      measurement: { type: "string" },
      simulate: { type: "boolean" },
      "ratls-cert": { type: "string" },
      "ratls-key": { type: "string" },
    },
    async run({ values, format }) {
      const certFile = values["ratls-cert"] as string | undefined;
      const keyFile = values["ratls-key"] as string | undefined;
      if ((certFile === undefined) !== (keyFile === undefined)) {
        throw new UsageError("--ratls-cert and --ratls-key go together");
      }
      const nonce = hexOption(values, "nonce") ?? crypto.getRandomValues(new Uint8Array(64));
      if (nonce.length > 64) throw new UsageError("invalid --nonce: at most 64 bytes");
      const result = await attest({
        nonce,
        simulate: values.simulate === true,
        expectedMeasurement: hexOption(values, "measurement"),
      });
      console.log(
        format === "json"
          ? JSON.stringify(attestationJson(result), null, 2)
          : attestationText(result),
      );
      if (result.tee === "none") return 1;
      if (certFile && keyFile) {
        const identity = await createRaTlsCertificate({
          evidence: (reportData) =>
            values.simulate === true
              ? Promise.resolve({ tee: "simulated", reportData })
              : collectEvidence(reportData),
        });
        await Deno.writeTextFile(certFile, identity.certificatePem);
        await Deno.writeTextFile(keyFile, identity.privateKeyPem, { mode: 0o600 });
        console.error(
          `RA-TLS certificate written to ${certFile}${identity.simulated ? " (SIMULATED)" : ""}`,
        );
      }
      return 0;
    },
  },
  "verify-ratls": {
    options: {
      nonce: { type: "string" },
      measurement: { type: "string" },
      "allow-simulated": { type: "boolean" },
    },
    async run({ positionals, values, format }) {
      const target = positionals[0]?.match(/^(.+):(\d{1,5})$/);
      if (!target || positionals.length !== 1) {
        throw new UsageError("usage: a3s box verify-ratls [--allow-simulated] HOST:PORT");
      }
      const nonce = hexOption(values, "nonce");
      if (nonce && nonce.length > 32) throw new UsageError("invalid --nonce: at most 32 bytes");
      try {
        const { socket, verification } = await connectRaTls({
          hostname: target[1].replace(/^\[|\]$/g, ""),
          port: Number(target[2]),
          nonce,
          expectedMeasurement: hexOption(values, "measurement"),
          allowSimulated: values["allow-simulated"] === true,
        });
        socket.destroy();
        const v = verification;
        console.log(
          format === "json"
            ? JSON.stringify({ ...(plain(v) as object), verified: !v.simulated }, null, 2)
            : `${v.simulated ? "SIMULATED, not verified: " : "RA-TLS verified: "}${v.tee}, ` +
              `measurement ${toHex(v.measurement)}, key ${v.publicKeySha256}`,
        );
      } catch (error) {
        if (!(error instanceof AttestationError)) throw error;
        console.error(`error: ${error.message}`);
        return 1;
      }
    },
  },
  seal: {
    options: SEAL_OPTIONS,
    async run({ values }) {
      const keys = await sealKeys(values);
      const data = await readInput(values.input as string | undefined);
      await writeOutput(values.output as string | undefined, await seal(data, keys));
    },
  },
  unseal: {
    options: SEAL_OPTIONS,
    async run({ values }) {
      const keys = await sealKeys(values);
      const blob = await readInput(values.input as string | undefined);
      try {
        await writeOutput(values.output as string | undefined, await unseal(blob, keys));
      } catch (error) {
        if (!(error instanceof SealError)) throw error;
        console.error(`error: ${error.message}`);
        return 1;
      }
    },
  },
  "inject-secret": {
    options: { "from-file": { type: "string" }, measurement: { type: "string" } },
    async run({ boxes, positionals, values }) {
      const [box, name] = positionals;
      if (!box || !name || positionals.length > 2) {
        throw new UsageError("usage: a3s box inject-secret [--from-file FILE] BOX NAME");
      }
      const expectedMeasurement = hexOption(values, "measurement");
      await boxes.inspect(box); // an unknown box is a usage error before any attestation
      const value = await readInput(values["from-file"] as string | undefined);
      try {
        const delivered = await injectSecret(boxes, {
          box,
          name,
          value,
          expectedMeasurement,
          attest: (nonce) => attest({ nonce }),
        });
        console.log(`${delivered.path} (${delivered.tee}, measurement ${delivered.measurement})`);
      } catch (error) {
        if (!(error instanceof A3sError) || error.code === "invalid_request") throw error;
        console.error(`error: ${error.message}`);
        return 1;
      }
    },
  },
};
