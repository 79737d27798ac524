/** The states of the word shared between the main thread and a vCPU runner worker. */
export const RunnerState = {
  /** Waiting for the next run request. */
  Idle: 0,
  /** The main thread asked for KVM_RUN. */
  Run: 1,
  /** KVM_RUN returned; word 1 holds its result (negative errno on failure). */
  Done: 2,
  /** The worker ends its loop. */
  Quit: 3,
} as const;
