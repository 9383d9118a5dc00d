/**
 * One page of a sorted listing: the cursor and limit rules of ListOptions, shared by backends.
 *
 * Why: every backend must page the same way (names strictly after the cursor, sorted by UTF-8
 * bytes, at most LIMITS.MAX_LIST_PAGE) so that a client walking pages sees each name once even
 * when files are created or removed between pages.
 */
import { FerryError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { compareNames, isHiddenName, validateName } from './names.js';
import type { ListOptions } from './types.js';

export interface PageRequest {
  cursor: string | null;
  limit: number;
  includeHidden: boolean;
}

/** Checks ListOptions: the cursor is a name, the limit 1..MAX_LIST_PAGE (larger values are capped). */
export function checkListOptions(opts: ListOptions | undefined): PageRequest {
  const cursor = opts?.cursor ?? null;
  if (cursor !== null) validateName(cursor);
  const limit = opts?.limit ?? LIMITS.MAX_LIST_PAGE;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new FerryError('INVALID_ARGUMENT', `list limit must be a positive integer, got ${String(limit)}`);
  }
  return {
    cursor,
    limit: Math.min(limit, LIMITS.MAX_LIST_PAGE),
    includeHidden: opts?.includeHidden === true,
  };
}

/** Index of the first name in `sorted` strictly after `cursor`. */
function firstAfter(sorted: readonly string[], cursor: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareNames(sorted[mid] as string, cursor) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The names of one page out of `sorted` (sorted by compareNames), and the next cursor. */
export function pageOf(
  sorted: readonly string[],
  req: PageRequest,
): { names: string[]; nextCursor: string | null } {
  const names: string[] = [];
  let i = req.cursor === null ? 0 : firstAfter(sorted, req.cursor);
  for (; i < sorted.length && names.length < req.limit; i++) {
    const name = sorted[i] as string;
    if (req.includeHidden || !isHiddenName(name)) names.push(name);
  }
  while (i < sorted.length && !req.includeHidden && isHiddenName(sorted[i] as string)) i++;
  const more = i < sorted.length;
  return { names, nextCursor: more ? (names[names.length - 1] ?? null) : null };
}
