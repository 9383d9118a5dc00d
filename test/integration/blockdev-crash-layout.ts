// Sizes shared by blockdev-crash.test.ts and its child process.
export const CRASH = {
  MiB: 1024 * 1024,
  sizeBytes: 8 * 1024 * 1024,
  /** The child exits by itself after this, in case the parent never kills it. */
  childLifetimeMs: 60_000,
  /** How long the parent waits for the child's "ready". */
  readyTimeoutMs: 30_000,
} as const;
