/**
 * A comma-separated choice flag of the benchmarks (`--impl`, `--workload`, `--tools`, ...), read the
 * same way by each: known values only, repeats dropped, order kept.
 */
import { ferryError } from '../../src/index.js';

/** The values of `text` from `allowed`; `defaults` when the flag is absent or empty. */
export function parseList<T extends string>(
  text: string | undefined,
  allowed: readonly T[],
  flag: string,
  defaults: readonly T[] = allowed,
): T[] {
  if (text === undefined || text.trim() === '') return [...defaults];
  const out: T[] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    if (!(allowed as readonly string[]).includes(part)) {
      throw ferryError(
        'INVALID_ARGUMENT',
        `${flag}: unknown value "${part}"; use a comma-separated list of ${allowed.join(', ')}`,
      );
    }
    if (!out.includes(part as T)) out.push(part as T);
  }
  return out;
}
