/**
 * The VMM process on its own: a guest program's exit status arrives on COM2 as the agent writes
 * it, and the VMM records it and ends even though the guest then spins forever; a guest that just
 * halts is recorded as exited; the console, stdout and stderr lines each reach their own file.
 */
import { assertEquals } from "@a3s/common/testing";
import { join } from "node:path";
import { kvmAvailable } from "./_test_support.ts";
import type { VmmConfig } from "./vmm_process.ts";

const VMM = new URL("./vmm_process.ts", import.meta.url).pathname;

/** Real-mode code at 0x1000: write each text to its port byte by byte, then `tail`. */
function portGuest(writes: [number, string][], tail: number[]): Uint8Array {
  const code: number[] = [];
  for (const [port, text] of writes) {
    code.push(0xba, port & 0xff, port >> 8); // mov dx, port
    for (const byte of new TextEncoder().encode(text)) code.push(0xb0, byte, 0xee); // mov al; out
  }
  return Uint8Array.from([...code, ...tail]);
}

/** Real-mode code at 0x1000: write `text` to COM2 byte by byte, then `tail`. */
function statusGuest(text: string, tail: number[]): Uint8Array {
  return portGuest([[0x2f8, text]], tail);
}

async function runVmm(
  image: Uint8Array,
): Promise<{ code: number; status: string; ms: number; files: Record<string, string> }> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "a3svmm" });
  try {
    await Deno.writeFile(join(dir, "guest.bin"), image);
    const config: VmmConfig = {
      memoryBytes: 2 * 1024 * 1024,
      boot: { kind: "program", image: join(dir, "guest.bin"), mode: "real", entry: 0x1000 },
      socket: join(dir, "agent.sock"),
      console: join(dir, "console"),
      stdout: join(dir, "stdout"),
      stderr: join(dir, "stderr"),
      status: join(dir, "status"),
    };
    await Deno.writeTextFile(join(dir, "vmm.json"), JSON.stringify(config));
    const started = performance.now();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-ffi",
        "--allow-read",
        "--allow-write",
        `--allow-net=unix:${config.socket}`,
        VMM,
        join(dir, "vmm.json"),
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const { code } = await child.status;
    clearTimeout(timer);
    const status = await Deno.readTextFile(config.status);
    const files: Record<string, string> = {};
    for (const name of ["console", "stdout", "stderr"]) {
      files[name] = await Deno.readTextFile(join(dir, name)).catch(() => "");
    }
    return { code, status, ms: performance.now() - started, files };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "VMM process: the agent's status line on COM2 ends the box",
  ignore: !kvmAvailable(),
}, async () => {
  // "3 0 exited\r\n" as a tty writes it, then a jump to itself that never exits.
  const reported = await runVmm(statusGuest("3 0 exited\r\n", [0xeb, 0xfe]));
  assertEquals([reported.code, reported.status], [0, "3 0 exited\n"]);
  const halted = await runVmm(Uint8Array.of(0xf4));
  assertEquals([halted.code, halted.status], [0, "0 0 exited\n"]);
});

Deno.test({
  name: "VMM process: the guest's stdout and stderr lines (COM3, COM4) land in files of their own",
  ignore: !kvmAvailable(),
}, async () => {
  const writes: [number, string][] = [
    [0x3f8, "console\n"],
    [0x3e8, "out\n"],
    [0x2e8, "err\n"],
    [0x2f8, "0 0 exited\n"],
  ];
  const ran = await runVmm(portGuest(writes, [0xeb, 0xfe]));
  assertEquals(ran.files, { console: "console\n", stdout: "out\n", stderr: "err\n" });
});
