/**
 * Test support: a real PostgreSQL for contract tests. Starts Debian's cluster through
 * `.ci/postgres.sh` when nothing answers, and says SKIPPED out loud when it truly cannot.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const DEFAULT_URL = "postgres://a3s:a3s@127.0.0.1:5432/a3s_test";

async function connects(url: string): Promise<boolean> {
  const pg = await import("pg");
  const Client = pg.default?.Client ?? pg.Client;
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

let cached: Promise<string | undefined> | undefined;

/**
 * The admin URL of a running test PostgreSQL, or undefined after printing a SKIPPED line.
 * Honors `A3S_TEST_DATABASE_URL`.
 */
export function testPostgresUrl(): Promise<string | undefined> {
  cached ??= (async () => {
    const configured = Deno.env.get("A3S_TEST_DATABASE_URL");
    const url = configured?.startsWith("postgres") ? configured : DEFAULT_URL;
    if (await connects(url)) return url;
    const script = join(fileURLToPath(new URL("../.ci/postgres.sh", import.meta.url)));
    try {
      await new Deno.Command("bash", { args: [script], stdout: "null", stderr: "piped" }).output();
    } catch { /* reported below */ }
    if (await connects(url)) return url;
    console.log(`SKIPPED: PostgreSQL is not reachable at ${url.replace(/:[^:@/]*@/, ":***@")}`);
    return undefined;
  })();
  return cached;
}

/** A fresh, empty database on the test server, and a function that drops it. */
export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * Creates an isolated database for one test file, or returns undefined (after a SKIPPED
 * line) when PostgreSQL cannot run here.
 */
export async function createTestDatabase(prefix = "a3s_t"): Promise<TestDatabase | undefined> {
  const admin = await testPostgresUrl();
  if (!admin) return undefined;
  const pg = await import("pg");
  const Client = pg.default?.Client ?? pg.Client;
  const name = `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const client = new Client({ connectionString: admin });
  await client.connect();
  await client.query(`create database ${name}`);
  await client.end();
  const url = admin.replace(/\/[^/?]+(\?|$)/, `/${name}$1`);
  return {
    url,
    async drop() {
      const c = new Client({ connectionString: admin });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export { assert, assertEquals, assertRejects, assertThrows } from "./_assert.ts";

const testDirs: string[] = [];

/**
 * A new temporary folder, removed when the test module ends (after its last test, also when one
 * failed), so a test that keeps a server's home across a restart need not clean up itself.
 *
 * @example
 * ```ts ignore
 * const home = await testDir("a3s-api-");
 * ```
 */
export async function testDir(prefix = "a3s-test-"): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  if (testDirs.length === 0) {
    globalThis.addEventListener("unload", () => {
      for (const path of testDirs) {
        try {
          Deno.removeSync(path, { recursive: true });
        } catch {
          // Gone already, or removed by the test itself.
        }
      }
    });
  }
  testDirs.push(dir);
  return dir;
}
