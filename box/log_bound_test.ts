/** `--log-opt` parsing: Docker's units, the default bound, and one-line errors for bad values. */
import { assertEquals, assertThrows } from "@a3s/common/testing";
import { UsageError } from "@a3s/common";
import { DEFAULT_LOG_BOUND, logSizeBytes, parseLogOpts } from "./log_bound.ts";

Deno.test("log bound: Docker's max-size units and max-file over the default", () => {
  assertEquals(parseLogOpts([]), DEFAULT_LOG_BOUND);
  assertEquals(parseLogOpts(["max-size=10m", "max-file=3"]), {
    maxSize: 10 * 1024 * 1024,
    maxFiles: 3,
  });
  assertEquals(parseLogOpts(["max-size=64k"]).maxSize, 65536);
  assertEquals(parseLogOpts(["max-size=1G"]).maxSize, 1024 ** 3);
  assertEquals(parseLogOpts(["max-file=1"]).maxFiles, 1);
  assertEquals(logSizeBytes("4096"), 4096);
  // Docker's other spellings of the same sizes.
  assertEquals(
    ["10mb", "10MiB", "10 m", "1.5m", "2kb"].map(logSizeBytes),
    [10 * 1024 ** 2, 10 * 1024 ** 2, 10 * 1024 ** 2, 1.5 * 1024 ** 2, 2048],
  );
});

Deno.test("log bound: bad values are usage errors naming the option", () => {
  for (
    const [entry, message] of [
      ["max-size=lots", "invalid --log-opt max-size"],
      ["max-size=0", "invalid --log-opt max-size"],
      ["max-size=10", "invalid --log-opt max-size"],
      ["max-size=1.5.2m", "invalid --log-opt max-size"],
      ["max-size=10x", "invalid --log-opt max-size"],
      ["max-file=0", "invalid --log-opt max-file"],
      ["max-file=x", "invalid --log-opt max-file"],
      ["max-file=1000", "invalid --log-opt max-file"],
      ["mode=non-blocking", "unknown --log-opt"],
    ]
  ) {
    assertThrows(() => parseLogOpts([entry]), UsageError, message);
  }
});
