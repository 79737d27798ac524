/** The limits both workers of the two-process test run under, and the test checks. */
export const SHARED_LIMITS = {
  maxConcurrency: 6,
  sessionConcurrency: 2,
  keyConcurrency: { gpu: 2 },
  lanes: { query: { maxConcurrency: 4 }, prompt: { maxConcurrency: 3 } },
};
