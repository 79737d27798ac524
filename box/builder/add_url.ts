/**
 * `ADD <url> <dest>`: the file is fetched through the shared access policy (so a Dockerfile
 * cannot make the builder read loopback, private or cloud metadata addresses unless the
 * operator allowed them), stored with mode 0600 as Docker does, dated by the response's
 * `Last-Modified`, and never unpacked. Into a directory destination it takes the URL path's
 * last segment as its name.
 */
import { A3sError, type AccessPolicy } from "@a3s/common";
import type { TarInput } from "../image/tar.ts";
import { safeComponents } from "../image/extract.ts";
import { dockerfileError } from "./dockerfile.ts";
import { concatByteList } from "../_bytes.ts";

/** The largest file `ADD` downloads: a build input, not a data set. */
export const MAX_ADD_URL_BYTES = 512 * 1024 * 1024;

/** Where and how the fetched file lands. */
export interface AddUrlOptions {
  /** The absolute destination in the image (a trailing `/` for a directory). */
  dest: string;
  /** Whether `dest` is a directory the file goes into. */
  intoDirectory: boolean;
  /** The policy every fetch goes through. */
  policy: AccessPolicy;
  /** `--chown`, numeric. */
  owner?: { uid: number; gid: number };
  /** `--chmod`; 0600 when unset. */
  mode?: number;
  /** The Dockerfile line, named in errors. */
  line: number;
}

async function readCapped(response: Response, url: string, line: number): Promise<Uint8Array> {
  const reader = response.body?.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  if (!reader) return new Uint8Array();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_ADD_URL_BYTES) {
      await reader.cancel();
      throw dockerfileError(line, `ADD ${url}: larger than ${MAX_ADD_URL_BYTES} bytes`);
    }
    parts.push(value);
  }
  return concatByteList(parts);
}

/** Fetches one `ADD` URL into a layer entry. */
export async function fetchAddUrl(url: string, options: AddUrlOptions): Promise<TarInput> {
  let response: Response;
  try {
    response = await options.policy.fetch(url, { field: "dockerfile" });
  } catch (error) {
    // The policy's refusals and failures read the same whatever the cause, on purpose.
    const message = error instanceof A3sError ? error.message : "the URL could not be fetched";
    throw dockerfileError(options.line, `ADD ${url}: ${message}`);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw dockerfileError(options.line, `ADD ${url}: the server answered ${response.status}`);
  }
  const data = await readCapped(response, url, options.line);
  const destParts = safeComponents(options.dest);
  let path = destParts;
  if (options.intoDirectory) {
    const name = new URL(url).pathname.split("/").filter(Boolean).at(-1);
    if (!name) {
      throw dockerfileError(
        options.line,
        `ADD ${url}: the URL names no file; give the destination a file name`,
      );
    }
    path = [...destParts, ...safeComponents(decodeURIComponent(name))];
  }
  if (path.length === 0) throw dockerfileError(options.line, `ADD ${url}: no destination file`);
  const modified = Date.parse(response.headers.get("last-modified") ?? "");
  return {
    path: path.join("/"),
    type: "file",
    mode: options.mode ?? 0o600,
    data,
    uid: options.owner?.uid ?? 0,
    gid: options.owner?.gid ?? 0,
    mtime: Number.isNaN(modified) ? 0 : Math.floor(modified / 1000),
  };
}
