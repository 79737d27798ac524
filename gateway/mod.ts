/**
 * `@a3s/gateway`: an app-agnostic reverse proxy. Routers match host (with wildcards), path,
 * method and headers by priority; services balance over backends with health checks and
 * circuit breakers; Hono-style middlewares add auth, rate limits, CORS and rewrites. Config
 * comes from a YAML or JSON file validated by zod and is reloaded on change without dropping
 * requests. HTTPS serves certificates by SNI from files, ACME (HTTP-01) and, as a Kubernetes
 * Ingress controller, TLS secrets.
 *
 * @example
 * ```ts
 * import { parseGatewayConfig, startGateway } from "@a3s/gateway";
 * const config = parseGatewayConfig(`
 * services:
 *   app: { backends: [{ url: "http://127.0.0.1:9000" }] }
 * routers:
 *   app: { rule: { pathPrefix: ["/"] }, service: app }
 * `, "gateway.yaml");
 * const running = await startGateway({ config, port: 0 });
 * await running.close();
 * ```
 * @module
 */
export * from "./config.ts";
export * from "./config_file.ts";
export { Gateway } from "./gateway.ts";
export type { BackendSummary, GatewayOptions, RouterSummary } from "./gateway.ts";
export * from "./server.ts";
export { hashSecret } from "./hash.ts";
export { CertificateError, CertificateStore, describeCertificate } from "./certificates.ts";
export type { CertificateEntry, CertifiedKey } from "./certificates.ts";
export { syncCertificateDir, watchCertificateDir } from "./certificate_files.ts";
export { AcmeChallenges } from "./acme_challenges.ts";
export { AcmeManager } from "./acme.ts";
export type { AcmeOptions } from "./acme.ts";
export { CONTROLLER_NAME, startIngressController } from "./kubernetes.ts";
export type { IngressController, IngressControllerOptions } from "./kubernetes.ts";
export { translateIngresses } from "./ingress_translation.ts";
export type { ClusterObjects, IngressTranslation } from "./ingress_translation.ts";
export { TokenMeter } from "./metering.ts";
export type { Quota, TextCounter, TokenCount, UsageRow } from "./metering.ts";

/** The package name. */
export const MODULE_NAME = "@a3s/gateway";
