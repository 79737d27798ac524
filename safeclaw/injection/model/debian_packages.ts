/**
 * Which Debian packages the injection corpus reads (`build_corpus.ts`): their documentation
 * gives the hard-benign sentences and benign paragraphs, and their status, file lists and
 * directory listings the benign tool results. Whatever else a machine has installed is left out,
 * so that installing a package does not change the corpus: reading every installed package made
 * about 570 tool results of a build differ from one made a day earlier on the same machine.
 */

/** The pinned list shipped beside this file: the packages the shipped models' corpus read. */
export const PINNED_PACKAGES = new URL("./debian_packages.txt", import.meta.url);

const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

const VERSION = /^[0-9A-Za-z.+~:-]+$/;

/** Package name to the version the list pins (`undefined` where it pins none). */
export type PackageList = Map<string, string | undefined>;

/**
 * Parses a package list: one Debian package a line, its name and, optionally, the version a
 * build expects (`bash 5.2.15-2+b7`); blank lines and lines starting with `#` are
 * skipped. A line that is not a package name and version throws, naming the line.
 *
 * @example
 * ```ts
 * import { parsePackageList } from "./debian_packages.ts";
 * console.log(parsePackageList("# docs\nbash 5.2.15-2+b7\nlibc6\n")); // Map(2) { "bash" => "5.2.15-2+b7", "libc6" => undefined }
 * ```
 */
export function parsePackageList(text: string): PackageList {
  const packages: PackageList = new Map();
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const [name, version, ...rest] = line.split(/\s+/);
    if (
      !PACKAGE_NAME.test(name) || (version !== undefined && !VERSION.test(version)) || rest.length
    ) {
      throw new Error(
        `package list, line ${index + 1}: "${line}" is not a Debian package name and version`,
      );
    }
    packages.set(name, version);
  }
  return packages;
}

/** Parses `dpkg-query -W -f '${Package} ${Version}\n'`: installed package to version. */
export function parseInstalledVersions(output: string): Map<string, string> {
  const versions = new Map<string, string>();
  for (const line of output.split("\n")) {
    const [name, version] = line.trim().split(/\s+/);
    if (name && version) versions.set(name, version);
  }
  return versions;
}

/** The packages a build reads, and how this machine departs from the pinned list. */
export interface DocPackages {
  /** Sorted. */
  packages: string[];
  /** Pinned but not installed here (sorted): a build without them differs from the shipped one. */
  missing: string[];
  /** Pinned packages installed at another version than the list's: `name: pinned, installed`. */
  otherVersions: string[];
}

/**
 * The packages with a documentation directory under `docsPath` (Debian's `/usr/share/doc`),
 * restricted to `pinned` unless it is `null`; `installed` (from
 * {@linkcode parseInstalledVersions}) is checked against the versions the list pins.
 */
export async function docPackages(
  docsPath: string,
  pinned: PackageList | null,
  installed: ReadonlyMap<string, string> = new Map(),
): Promise<DocPackages> {
  const withDocs = new Set<string>();
  try {
    for await (const entry of Deno.readDir(docsPath)) {
      if (entry.isDirectory) withDocs.add(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const packages = [...withDocs].filter((p) => !pinned || pinned.has(p)).sort();
  const missing = pinned ? [...pinned.keys()].filter((p) => !withDocs.has(p)).sort() : [];
  const otherVersions = packages.flatMap((p) => {
    const want = pinned?.get(p);
    const have = installed.get(p);
    return want && have && want !== have ? [`${p}: ${want}, ${have}`] : [];
  });
  return { packages, missing, otherVersions };
}

/**
 * `ls -la` output without the lines that tell about the machine rather than the package: the
 * block total (another filesystem counts other blocks) and the directory itself and its parent
 * (their link count and time change whenever any package is installed). The files' own lines,
 * their sizes and times, come from the package.
 */
export function portableListing(listing: string): string {
  return listing.split("\n").filter((line) => !/\s\.\.?$|^total \d+$/.test(line)).join("\n");
}
