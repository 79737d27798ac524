/**
 * Test support: a real ACME CA. Debian's `pebble` with `pebble-challtestsrv` as its DNS server
 * (every name resolves to 127.0.0.1), so pebble validates HTTP-01 challenges against a gateway
 * listening on this machine.
 */
import { makeCa } from "./_test_pki.ts";

/** A running pebble. */
export interface Pebble {
  /** The ACME directory URL. */
  directoryUrl: string;
  /** The CA that signed pebble's own HTTPS certificate (trust it to talk ACME). */
  apiCa: string;
  /** The root pebble issues certificates under (trust it to check a served certificate). */
  issuingRoot(): Promise<string>;
  /** Stops pebble and its DNS server. */
  close(): Promise<void>;
}

/** A port that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Whether pebble is installed (Debian package `pebble`). */
export function pebbleInstalled(): boolean {
  try {
    Deno.statSync("/usr/bin/pebble");
    return true;
  } catch {
    return false;
  }
}

/** Starts pebble; it validates HTTP-01 challenges on 127.0.0.1:`httpPort`. */
export async function startPebble(dir: string, httpPort: number): Promise<Pebble> {
  const ca = await makeCa(dir, "pebble-api");
  await ca.issue(`${dir}/pebble`, ["localhost", "IP:127.0.0.1"]);
  const [acmePort, managementPort, dnsPort, dnsManagementPort] = [
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ];
  await Deno.writeTextFile(
    `${dir}/pebble.json`,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: `${dir}/pebble.crt`,
        privateKey: `${dir}/pebble.key`,
        httpPort,
        tlsPort: freePort(),
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
      },
    }),
  );
  const dns = new Deno.Command("pebble-challtestsrv", {
    args: [
      "-dns01",
      `127.0.0.1:${dnsPort}`,
      "-http01",
      "",
      "-https01",
      "",
      "-tlsalpn01",
      "",
      "-management",
      `127.0.0.1:${dnsManagementPort}`,
      "-defaultIPv4",
      "127.0.0.1",
      "-defaultIPv6",
      "",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const pebble = new Deno.Command("pebble", {
    args: ["-config", `${dir}/pebble.json`, "-dnsserver", `127.0.0.1:${dnsPort}`],
    // No random sleeps before validation; nonces are not randomly rejected.
    env: { PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const client = Deno.createHttpClient({ caCerts: [ca.cert] });
  const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
  const close = async () => {
    client.close();
    for (const child of [pebble, dns]) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      await child.status;
    }
  };
  const until = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(directoryUrl, { client });
      await res.body?.cancel();
      if (res.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > until) {
      await close();
      throw new Error("pebble did not start within 15 s");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    directoryUrl,
    apiCa: ca.cert,
    async issuingRoot() {
      const res = await fetch(`https://127.0.0.1:${managementPort}/roots/0`, { client });
      return await res.text();
    },
    close,
  };
}
