/**
 * Sets a terminal's window size (TIOCSWINSZ) through libc: Deno has no ioctl, and a namespace
 * box's terminal lives in the launcher's own devpts, reachable from the host only as a descriptor
 * of a process that holds it (`/proc/PID/fd/N`).
 */

const O_RDWR = 2;
const O_NOCTTY = 0o400;
const O_CLOEXEC = 0o2000000;
const TIOCSWINSZ = 0x5414;

interface Libc {
  open(path: string, flags: number): number;
  setSize(fd: number, rows: number, cols: number): number;
  close(fd: number): number;
}

let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  const lib = Deno.dlopen("libc.so.6", {
    open: { parameters: ["buffer", "i32"], result: "i32" },
    ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
  });
  libc = {
    open: (path, flags) =>
      lib.symbols.open(new TextEncoder().encode(`${path}\0`) as Uint8Array<ArrayBuffer>, flags),
    setSize: (fd, rows, cols) => {
      // struct winsize { unsigned short ws_row, ws_col, ws_xpixel, ws_ypixel; }
      const size = new Uint16Array([rows, cols, 0, 0]);
      return lib.symbols.ioctl(fd, BigInt(TIOCSWINSZ), size as Uint16Array<ArrayBuffer>);
    },
    close: (fd) => lib.symbols.close(fd),
  };
  return libc;
}

/** Sets the window size of the terminal at `path`; false when it cannot be opened or set. */
export function setTerminalSize(path: string, rows: number, cols: number): boolean {
  const lib = load();
  const fd = lib.open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return false;
  try {
    return lib.setSize(fd, rows, cols) === 0;
  } finally {
    lib.close(fd);
  }
}
