/**
 * Shared plumbing of the command line: exit codes, one-line failure messages, JSON output.
 * Commands throw UsageError for bad usage (exit 2) and let FerryError through (exit 1).
 */
import { isFerryError } from '../src/index.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Bad command-line usage: printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Writes one line to stderr that says what failed and, where known, the code. */
export function describeFailure(err: unknown): string {
  if (isFerryError(err)) return `ferry: ${err.message} [${err.code}]`;
  if (err instanceof Error) return `ferry: ${err.message}`;
  return `ferry: ${String(err)}`;
}

export function printJson(value: unknown): void {
  process.stdout.write(
    JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n',
  );
}
