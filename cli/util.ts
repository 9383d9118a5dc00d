/**
 * Shared plumbing of the command line: exit codes, one-line failure messages, JSON output.
 * Commands throw UsageError for bad usage (exit 2) and let FerryError through (exit 1); the helpers
 * below turn yargs' validation failures and FerryErrors about the arguments into UsageError.
 */
import { isFerryError, type ErrorCode } from '../src/index.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Bad command-line usage: printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * A command's yargs `.fail` hook: validation failures (a missing or value-less option, an unknown
 * flag, a bad choice) become bad usage on one line before the handler runs; without it the global
 * fail hook lets the handler start anyway.
 */
export function failAsUsage(msg: string | undefined, err: Error | undefined): never {
  if (err && !(err instanceof UsageError) && msg === undefined) throw err;
  throw new UsageError((msg || err?.message || 'bad usage').replace(/\s*\n\s*/g, ' '));
}

/**
 * Throws `err` again, as a UsageError when it is a FerryError about what the user typed: any code,
 * or only `codes` when given (wrong values and refused addresses are fixed by changing the command
 * line).
 */
export function throwAsUsage(err: unknown, codes?: readonly ErrorCode[]): never {
  if (isFerryError(err) && (codes === undefined || codes.includes(err.code)))
    throw new UsageError(err.message);
  throw err;
}

/** Runs `fn`, turning a FerryError about the arguments into bad usage (see `throwAsUsage`). */
export function asUsage<T>(fn: () => T, codes?: readonly ErrorCode[]): T {
  try {
    return fn();
  } catch (err) {
    throwAsUsage(err, codes);
  }
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
