/**
 * Container logs in the CRI format the kubelet reads: one record per line,
 * `<RFC3339Nano time> <stdout|stderr> <F|P> <text>`, where `P` marks a partial line (output
 * that did not end in a newline yet). `reopen` starts a new file at the same path after the
 * kubelet rotated the old one away.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** RFC 3339 with nanoseconds, which is what the kubelet's parser expects. */
function timestamp(now = new Date()): string {
  return now.toISOString().replace(/\.(\d{3})Z$/, ".$1000000Z");
}

/** Formats output into CRI log records; pure so it can be tested alone. */
export function criLogRecords(
  stream: "stdout" | "stderr",
  text: string,
  now = new Date(),
): string {
  const lines = text.split("\n");
  const last = lines.pop()!;
  let out = "";
  for (const line of lines) out += `${timestamp(now)} ${stream} F ${line}\n`;
  if (last !== "") out += `${timestamp(now)} ${stream} P ${last}\n`;
  return out;
}

/** Appends CRI records to a log file. */
export class CriLogWriter {
  readonly path: string;
  #file: Deno.FsFile | undefined;

  constructor(path: string) {
    this.path = path;
  }

  /** Opens (creating) the file; the kubelet expects it to exist once the container started. */
  async open(): Promise<Deno.FsFile> {
    const dir = this.path.slice(0, this.path.lastIndexOf("/"));
    if (dir) await Deno.mkdir(dir, { recursive: true });
    this.#file ??= await Deno.open(this.path, { create: true, append: true, mode: 0o640 });
    return this.#file;
  }

  async write(stream: "stdout" | "stderr", data: Uint8Array): Promise<void> {
    const file = await this.open();
    const bytes = encoder.encode(criLogRecords(stream, decoder.decode(data)));
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
  }

  /** Closes the current file; the next write creates the path afresh. */
  async reopen(): Promise<void> {
    this.close();
    await this.open();
  }

  close(): void {
    this.#file?.close();
    this.#file = undefined;
  }
}
