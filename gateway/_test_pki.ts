/** Test support: a throwaway certificate authority made with openssl. */

async function openssl(args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** A CA whose files live in `dir`. */
export interface TestCa {
  /** The CA certificate's path. */
  certFile: string;
  /** The CA certificate (PEM). */
  cert: string;
  /** Issues a leaf for `names` (DNS names, or `IP:` addresses) as `out.crt`/`out.key`. */
  issue(out: string, names: string[]): Promise<{ cert: string; key: string }>;
}

/** Makes a CA called `name` in `dir`. */
export async function makeCa(dir: string, name: string): Promise<TestCa> {
  const certFile = `${dir}/${name}-ca.pem`;
  const keyFile = `${dir}/${name}-ca.key`;
  await openssl(["req", "-x509", ...EC, "-keyout", keyFile, "-out", certFile, "-days", "1"]
    .concat(["-subj", `/CN=${name} test CA`]));
  let serial = 0;
  return {
    certFile,
    cert: await Deno.readTextFile(certFile),
    async issue(out, names) {
      const csr = `${out}.csr`;
      await openssl([
        "req",
        ...EC,
        "-keyout",
        `${out}.key`,
        "-out",
        csr,
        "-subj",
        `/CN=${names[0]}`,
      ]);
      const ext = `${out}.ext`;
      await Deno.writeTextFile(
        ext,
        `subjectAltName=${names.map((n) => n.startsWith("IP:") ? n : `DNS:${n}`).join(",")}\n`,
      );
      await openssl([
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        certFile,
        "-CAkey",
        keyFile,
        "-set_serial",
        String(++serial + Date.now()),
        "-out",
        `${out}.crt`,
        "-days",
        "1",
        "-extfile",
        ext,
      ]);
      await Deno.remove(csr);
      await Deno.remove(ext);
      return {
        cert: await Deno.readTextFile(`${out}.crt`),
        key: await Deno.readTextFile(`${out}.key`),
      };
    },
  };
}

/** What curl got from `https://NAME:PORT/path` against 127.0.0.1, trusting `caFile` only. */
export async function curlHttps(
  name: string,
  port: number,
  path: string,
  caFile: string,
): Promise<{ ok: boolean; body: string; httpVersion: string; error: string }> {
  const out = await new Deno.Command("curl", {
    args: [
      "-sS",
      "--max-time",
      "5",
      "--cacert",
      caFile,
      "--resolve",
      `${name}:${port}:127.0.0.1`,
      "-w",
      "\n%{http_version}",
      `https://${name}:${port}${path}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const cut = text.lastIndexOf("\n");
  return {
    ok: out.success,
    body: text.slice(0, cut),
    httpVersion: text.slice(cut + 1),
    error: new TextDecoder().decode(out.stderr).trim(),
  };
}
