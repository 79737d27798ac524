/** The shared PostgreSQL test helper, re-exported for lane's tests. */
export { createTestDatabase, type TestDatabase } from "@a3s/common/testing";
