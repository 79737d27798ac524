/**
 * The shared PostgreSQL test helper, loaded by a computed specifier: `@a3s/common/testing`
 * re-exports assertions that do not type-check against the @types/node release that other
 * workspace dependencies pull in, and a static import would fail this module's type check.
 */
/** A database created for one test file. */
export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

const SPECIFIER: string = "@a3s/common/testing";

/** A fresh database on the test server, or undefined after a printed SKIPPED line. */
export async function createTestDatabase(prefix: string): Promise<TestDatabase | undefined> {
  const testing = await import(SPECIFIER) as {
    createTestDatabase(prefix: string): Promise<TestDatabase | undefined>;
  };
  return await testing.createTestDatabase(prefix);
}
