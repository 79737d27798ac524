/**
 * The TEE routes under `/box/v1`: `GET /attestation` (this host's verified report for a
 * caller's nonce, a clear "no TEE here", or a simulated answer that says so) and
 * `POST /boxes/{id}/secrets` (inject a secret after attestation verifies). They sit under box's
 * `box:exec` access rule like every other box route.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { A3sError } from "@a3s/common";
import { attest, type AttestationResult } from "./attest.ts";
import { fromHex } from "./evidence.ts";
import { attestationJson } from "./render.ts";
import { injectSecret, type SecretTarget } from "./secrets.ts";

const Hex = (max: number) => z.string().regex(/^([0-9a-fA-F]{2})+$/, "hex bytes").max(max * 2);

const AttestationQuery = z.object({
  nonce: Hex(64).optional().openapi({ description: "Up to 64 bytes (hex); random when unset" }),
  measurement: Hex(64).optional().openapi({ description: "The launch measurement required" }),
  simulate: z.enum(["true", "false"]).optional().openapi({
    description: "Development only: a SIMULATED answer that proves nothing",
  }),
});

const Attestation = z.object({
  tee: z.enum(["sev-snp", "tdx", "simulated", "none"]),
  verified: z.boolean(),
  simulated: z.boolean(),
  message: z.string().optional(),
  measurement: z.string().optional(),
}).catchall(z.unknown()).openapi("BoxAttestation");

const SecretRequest = z.object({
  name: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/),
  value: z.string().max(1024 * 1024),
  measurement: Hex(64).optional(),
}).openapi("BoxSecretRequest");

const Delivered = z.object({
  path: z.string(),
  tee: z.enum(["sev-snp", "tdx"]),
  measurement: z.string(),
}).openapi("BoxSecretDelivered");

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

/** Options for {@linkcode registerTeeRoutes}. */
export interface TeeRouteOptions {
  /** Attests this host for a nonce; the configfs TSM of the machine running serve by default. */
  attest?: (
    nonce: Uint8Array,
    options: { simulate: boolean; expectedMeasurement?: Uint8Array },
  ) => Promise<AttestationResult>;
}

/** Adds the attestation and secret routes to box's sub-app. */
export function registerTeeRoutes(
  app: OpenAPIHono,
  boxes: SecretTarget & { inspect(id: string): Promise<unknown> },
  options: TeeRouteOptions = {},
): void {
  const attester = options.attest ??
    ((nonce, o) =>
      attest({ nonce, simulate: o.simulate, expectedMeasurement: o.expectedMeasurement }));

  app.openapi(
    createRoute({
      method: "get",
      path: "/box/v1/attestation",
      summary: "This host's TEE attestation: the parsed, verified report, or no TEE here",
      request: { query: AttestationQuery },
      responses: { 200: json(Attestation, "The attestation (tee is none where there is no TEE)") },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const nonce = query.nonce ? fromHex(query.nonce) : crypto.getRandomValues(new Uint8Array(64));
      const expectedMeasurement = query.measurement ? fromHex(query.measurement) : undefined;
      let result: AttestationResult;
      try {
        result = await attester(nonce, {
          simulate: query.simulate === "true",
          expectedMeasurement,
        });
      } catch (error) {
        throw new A3sError(
          "attestation_failed",
          `attestation failed: ${(error as Error).message}`,
          {
            status: 502,
          },
        );
      }
      return c.json(attestationJson(result) as z.infer<typeof Attestation>, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/box/v1/boxes/{id}/secrets",
      summary: "Write a secret to the box's /run/secrets (0400, tmpfs) once attestation verifies",
      request: {
        params: z.object({ id: z.string().min(1).max(128) }),
        body: { content: { "application/json": { schema: SecretRequest } }, required: true },
      },
      responses: { 201: json(Delivered, "Delivered") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const request = c.req.valid("json");
      await boxes.inspect(id);
      const delivered = await injectSecret(boxes, {
        box: id,
        name: request.name,
        value: new TextEncoder().encode(request.value),
        expectedMeasurement: request.measurement ? fromHex(request.measurement) : undefined,
        attest: (nonce) => attester(nonce, { simulate: false }),
      });
      return c.json(delivered, 201);
    },
  );
}
