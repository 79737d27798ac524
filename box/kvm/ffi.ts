/**
 * The few libc calls the VMM needs, through `Deno.dlopen`. KVM is driven with ioctl on file
 * descriptors, guest RAM is anonymous mmap, and a vCPU blocked in KVM_RUN is kicked out with a
 * thread-directed signal (tgkill), which is why gettid/tgkill are here too.
 */

const LIBC_CANDIDATES = ["libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"];

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  ioctlPtr: { name: "ioctl", parameters: ["i32", "u64", "buffer"], result: "i32" },
  ioctlInt: { name: "ioctl", parameters: ["i32", "u64", "u64"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  errnoLocation: { name: "__errno_location", parameters: [], result: "pointer" },
  getpid: { parameters: [], result: "i32" },
  tgkill: { parameters: ["i32", "i32", "i32"], result: "i32" },
  strerror: { parameters: ["i32"], result: "pointer" },
  pthreadSigmask: {
    name: "pthread_sigmask",
    parameters: ["i32", "buffer", "buffer"],
    result: "i32",
  },
} as const;

/** The loaded libc bindings. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let loaded: Libc | undefined;

/** Opens libc once per thread (Deno binds dynamic libraries per isolate). */
export function libc(): Libc {
  if (loaded) return loaded;
  let lastError: unknown;
  for (const path of LIBC_CANDIDATES) {
    try {
      loaded = Deno.dlopen(path, SYMBOLS).symbols;
      return loaded;
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`cannot load libc: ${String(lastError)}`);
}

/** The calling thread's errno, read right after a failed call. */
export function errno(): number {
  const location = libc().errnoLocation();
  if (location === null) return 0;
  return new Deno.UnsafePointerView(location).getInt32();
}

/** A libc call failed: carries errno and its text. */
export class SyscallError extends Error {
  constructor(readonly call: string, readonly errno: number) {
    super(`${call} failed: ${describeErrno(errno)} (errno ${errno})`);
    this.name = "SyscallError";
  }
}

/** strerror(3) text for an errno. */
export function describeErrno(code: number): string {
  const text = libc().strerror(code);
  return text === null ? `errno ${code}` : new Deno.UnsafePointerView(text).getCString();
}

/** Throws {@linkcode SyscallError} when a libc call returned -1. */
export function check(call: string, result: number): number {
  if (result < 0) throw new SyscallError(call, errno());
  return result;
}

/** A NUL-terminated copy of a string, for path arguments. */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(text);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

export const O_RDWR = 2;
export const O_CLOEXEC = 0o2000000;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const MAP_PRIVATE = 2;
export const MAP_ANONYMOUS = 0x20;
export const MAP_NORESERVE = 0x4000;
export const EINTR = 4;
export const EAGAIN = 11;
