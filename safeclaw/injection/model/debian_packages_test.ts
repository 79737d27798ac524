import { assertEquals, assertThrows } from "@a3s/common/testing";
import {
  docPackages,
  parseInstalledVersions,
  parsePackageList,
  PINNED_PACKAGES,
  portableListing,
} from "./debian_packages.ts";

Deno.test("parsePackageList: names one a line, comments and blanks skipped, a bad line named", () => {
  assertEquals(
    [...parsePackageList(
      "# pinned\n\nbash 5.2.15-2+b7\n  libc6 \npython3.11 3.11.2-6\nlibstdc++6\n",
    )],
    [["bash", "5.2.15-2+b7"], ["libc6", undefined], ["python3.11", "3.11.2-6"], [
      "libstdc++6",
      undefined,
    ]],
  );
  assertThrows(
    () => parsePackageList("bash\n../etc\n"),
    Error,
    'line 2: "../etc" is not a Debian package name and version',
  );
  assertThrows(() => parsePackageList("bash 5.2 extra\n"), Error, "line 1");
  assertThrows(() => parsePackageList("bash $(id)\n"), Error, "line 1");
  assertEquals(
    parseInstalledVersions("bash 5.2.15-2+b7\nlibc6 2.36-9+deb12u9\n\nbroken\n"),
    new Map([["bash", "5.2.15-2+b7"], ["libc6", "2.36-9+deb12u9"]]),
  );
});

Deno.test("the shipped list parses and names the packages the corpus read", async () => {
  const pinned = parsePackageList(await Deno.readTextFile(PINNED_PACKAGES));
  assertEquals(pinned.size > 500, true);
  assertEquals(pinned.has("bash") && pinned.has("coreutils"), true);
});

Deno.test("docPackages: only pinned packages are read, missing ones are reported", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const p of ["zsh", "bash", "extra-tool"]) await Deno.mkdir(`${dir}/${p}`);
    await Deno.writeTextFile(`${dir}/README`, "not a package");
    const pinned = new Map([["bash", "5.2"], ["zsh", undefined], ["gone", "1.0"]]);
    const installed = new Map([["bash", "5.3"], ["zsh", "5.9"], ["extra-tool", "1"]]);
    assertEquals(await docPackages(dir, pinned, installed), {
      packages: ["bash", "zsh"],
      missing: ["gone"],
      otherVersions: ["bash: 5.2, 5.3"],
    });
    assertEquals((await docPackages(dir, null)).packages, ["bash", "extra-tool", "zsh"]);
    assertEquals(await docPackages(`${dir}/nowhere`, new Map([["bash", undefined]])), {
      packages: [],
      missing: ["bash"],
      otherVersions: [],
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("portableListing: the total and the . and .. lines go, the files stay", () => {
  const listing = [
    "total 24",
    "drwxr-xr-x    2 root root  4096 Nov 26 02:47 .",
    "drwxr-xr-x 1069 root root 36864 Nov 26 19:46 ..",
    "-rw-r--r--    1 root root  1234 Jan  7  2023 changelog.Debian.gz",
    "-rw-r--r--    1 root root   567 Jan  7  2023 copyright",
  ].join("\n");
  assertEquals(
    portableListing(listing),
    [
      "-rw-r--r--    1 root root  1234 Jan  7  2023 changelog.Debian.gz",
      "-rw-r--r--    1 root root   567 Jan  7  2023 copyright",
    ].join("\n"),
  );
});
