/**
 * Certificates from an ACME CA (RFC 8555) with the HTTP-01 challenge, through `acme-client`:
 * for each configured domain it keeps a certificate in the data dir (`<domain>.crt`, `.key`,
 * plus the account key), serves it through the certificate store, and renews it when it nears
 * its expiry. The challenge answers are published on the plain-HTTP listener.
 */
import https from "node:https";
import * as acme from "acme-client";
import type { Logger } from "@a3s/common";
import type { AcmeChallenges } from "./acme_challenges.ts";
import { type CertificateStore, describeCertificate } from "./certificates.ts";

const DAY_MS = 86_400_000;

/** Options of an {@linkcode AcmeManager}. */
export interface AcmeOptions {
  /** The CA's directory URL (Let's Encrypt's, or a test CA's). */
  directoryUrl: string;
  /** The domains, one certificate each. */
  domains: string[];
  /** Where the account key and certificates are kept. */
  dataDir: string;
  /** Contact address for the account. */
  email?: string;
  /** Renew when a certificate has less than this left; default 30 days. */
  renewBeforeMs?: number;
  /** How often renewal is checked; default 12 hours. */
  checkIntervalMs?: number;
  /**
   * Fetch our own challenge URL before asking the CA to validate (default true), to fail early
   * when port 80 does not reach us; off where the domain does not resolve to us from here.
   */
  selfCheck?: boolean;
  /** Extra CA certificates (PEM) to trust for the ACME server's own HTTPS (test CAs). */
  caCerts?: string[];
  /** Where certificates are served from. */
  store: CertificateStore;
  /** Where challenge answers are published. */
  challenges: AcmeChallenges;
  /** Issuance and renewal messages. */
  logger?: Logger;
}

/** Obtains, stores, serves and renews ACME certificates. */
export class AcmeManager {
  readonly #options: AcmeOptions;
  #client?: acme.Client;
  #timer?: ReturnType<typeof setInterval>;
  #running?: Promise<string[]>;

  /** Sets up; nothing is requested until {@linkcode ensure} or {@linkcode start}. */
  constructor(options: AcmeOptions) {
    this.#options = options;
  }

  /** The certificate file of `domain`. */
  certFile(domain: string): string {
    return `${this.#options.dataDir}/${domain}.crt`;
  }

  /**
   * Serves every stored certificate, and orders a new one for each domain that has none or is
   * due for renewal. Returns the domains that got a new certificate. Runs one at a time.
   */
  ensure(): Promise<string[]> {
    this.#running ??= this.#ensure().finally(() => this.#running = undefined);
    return this.#running;
  }

  /** Runs {@linkcode ensure} now and then at every check interval; failures are logged. */
  start(): Promise<string[]> {
    const interval = this.#options.checkIntervalMs ?? DAY_MS / 2;
    this.#timer ??= setInterval(() => {
      this.ensure().catch((error) => this.#failed(error));
    }, interval);
    return this.ensure().catch((error) => {
      this.#failed(error);
      return [];
    });
  }

  /** Stops the renewal checks. */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #failed(error: unknown): void {
    this.#options.logger?.error("acme order failed", { error: String(error) });
  }

  async #ensure(): Promise<string[]> {
    const { domains, store } = this.#options;
    await Deno.mkdir(this.#options.dataDir, { recursive: true });
    const renewBefore = this.#options.renewBeforeMs ?? 30 * DAY_MS;
    const renewed: string[] = [];
    for (const domain of domains) {
      const stored = await this.#read(domain);
      if (stored) store.set(this.certFile(domain), stored);
      const notAfter = stored ? describeCertificate(domain, stored.cert).notAfter : undefined;
      if (notAfter && notAfter.getTime() - Date.now() > renewBefore) continue;
      const pair = await this.#order(domain);
      await this.#write(domain, pair);
      store.set(this.certFile(domain), pair);
      renewed.push(domain);
      this.#options.logger?.info("acme certificate issued", {
        domain,
        notAfter: describeCertificate(domain, pair.cert).notAfter.toISOString(),
        renewal: stored !== undefined,
      });
    }
    return renewed;
  }

  async #read(domain: string): Promise<{ cert: string; key: string } | undefined> {
    try {
      return {
        cert: await Deno.readTextFile(this.certFile(domain)),
        key: await Deno.readTextFile(`${this.#options.dataDir}/${domain}.key`),
      };
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
  }

  async #write(domain: string, pair: { cert: string; key: string }): Promise<void> {
    const dir = this.#options.dataDir;
    // The key first and owner-only; the chain last, by rename, so a reader of the directory
    // never pairs a new chain with an old key.
    await Deno.writeTextFile(`${dir}/${domain}.key`, pair.key, { mode: 0o600 });
    await Deno.writeTextFile(`${dir}/${domain}.crt.tmp`, pair.cert);
    await Deno.rename(`${dir}/${domain}.crt.tmp`, this.certFile(domain));
  }

  async #order(domain: string): Promise<{ cert: string; key: string }> {
    const client = await this.#account();
    const [key, csr] = await acme.crypto.createCsr({ commonName: domain, altNames: [domain] });
    const { challenges } = this.#options;
    const cert = await client.auto({
      csr,
      email: this.#options.email,
      termsOfServiceAgreed: true,
      challengePriority: ["http-01"],
      skipChallengeVerification: this.#options.selfCheck === false,
      challengeCreateFn: (_authz, challenge, keyAuthorization) => {
        challenges.set(challenge.token, keyAuthorization);
        return Promise.resolve();
      },
      challengeRemoveFn: (_authz, challenge) => {
        challenges.delete(challenge.token);
        return Promise.resolve();
      },
    });
    await this.#saveAccountUrl(client);
    return { cert, key: key.toString() };
  }

  /**
   * Keeps the account URL beside its key: a restarted gateway then skips registration, which
   * for an existing account some CAs answer only when the request carries a contact.
   */
  async #saveAccountUrl(client: acme.Client): Promise<void> {
    const file = `${this.#options.dataDir}/account.url`;
    const url = client.getAccountUrl();
    const saved = await Deno.readTextFile(file).catch(() => undefined);
    if (saved !== url) await Deno.writeTextFile(file, url);
  }

  /** The ACME client with the stored account key (made and kept on first use). */
  async #account(): Promise<acme.Client> {
    if (this.#client) return this.#client;
    const file = `${this.#options.dataDir}/account.key`;
    let accountKey: string;
    try {
      accountKey = await Deno.readTextFile(file);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      accountKey = (await acme.crypto.createPrivateKey()).toString();
      await Deno.writeTextFile(file, accountKey, { mode: 0o600 });
    }
    if (this.#options.caCerts?.length) {
      // acme-client talks through its own axios instance; a test CA is trusted there only.
      acme.axios.defaults.httpsAgent = new https.Agent({ ca: this.#options.caCerts });
    }
    const accountUrl = await Deno.readTextFile(`${this.#options.dataDir}/account.url`)
      .catch(() => undefined);
    this.#client = new acme.Client({
      directoryUrl: this.#options.directoryUrl,
      accountKey,
      accountUrl,
    });
    return this.#client;
  }
}
