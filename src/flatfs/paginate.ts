/**
 * One page of a sorted listing: the cursor, limit, prefix and delimiter rules of ListOptions,
 * shared by backends.
 *
 * Why: every backend must page the same way (names strictly after the cursor, sorted by UTF-8
 * bytes, at most LIMITS.MAX_LIST_PAGE entries and prefixes together, names below the next `/` after
 * the prefix rolled up into one folder) so that a client walking pages sees each name or folder
 * once even when files are created or removed between pages. Rolled-up folders sort as their text
 * (`a/` between `a.txt` and `a0`), and the names inside a folder all sort right after it, so one
 * pass in name order yields the page in order.
 */
import { FerryError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { SEPARATOR, compareNames, isHiddenName, validateCursor, validatePrefix } from './names.js';
import type { ListOptions } from './types.js';

export interface PageRequest {
  cursor: string | null;
  limit: number;
  includeHidden: boolean;
  /** '' for every name. */
  prefix: string;
  /** Roll names up at the next `/` after the prefix. */
  delimited: boolean;
}

/** The names and folders of one page, in order, and the next cursor. */
export interface NamePage {
  names: string[];
  prefixes: string[];
  nextCursor: string | null;
}

/** Checks ListOptions: the cursor is a name or folder, the limit 1..MAX_LIST_PAGE (larger capped). */
export function checkListOptions(opts: ListOptions | undefined): PageRequest {
  const cursor = opts?.cursor ?? null;
  if (cursor !== null) validateCursor(cursor);
  const prefix = opts?.prefix ?? '';
  validatePrefix(prefix);
  const delimiter = opts?.delimiter;
  if (delimiter !== undefined && delimiter !== SEPARATOR) {
    throw new FerryError(
      'INVALID_ARGUMENT',
      `list delimiter must be '/' or absent, got ${JSON.stringify(delimiter)}: names are split at '/' only`,
    );
  }
  const limit = opts?.limit ?? LIMITS.MAX_LIST_PAGE;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new FerryError('INVALID_ARGUMENT', `list limit must be a positive integer, got ${String(limit)}`);
  }
  return {
    cursor,
    limit: Math.min(limit, LIMITS.MAX_LIST_PAGE),
    includeHidden: opts?.includeHidden === true,
    prefix,
    delimited: delimiter === SEPARATOR,
  };
}

/** What `name` (which starts with the prefix) lists as: itself, or the folder it rolls up into. */
export function entryOf(name: string, req: PageRequest): string {
  if (!req.delimited) return name;
  const end = name.indexOf(SEPARATOR, req.prefix.length);
  return end === -1 ? name : name.slice(0, end + 1);
}

/** True for a rolled-up folder entry (`a/b/`). */
export function isFolderEntry(entry: string): boolean {
  return entry.endsWith(SEPARATOR);
}

/** True when `entry` comes after the cursor (and so belongs on the page, if visible). */
export function afterCursor(entry: string, req: PageRequest): boolean {
  return req.cursor === null || compareNames(entry, req.cursor) > 0;
}

/**
 * Builds a page from entries offered in name order: the first `limit` go on the page, and one
 * more only tells that the page is not the last.
 */
export class PageBuilder {
  private readonly names: string[] = [];
  private readonly prefixes: string[] = [];
  private last: string | null = null;
  private more = false;

  constructor(private readonly req: PageRequest) {}

  /** Adds `entry` (a name, or a folder ending in `/`); false once the page is full. */
  offer(entry: string): boolean {
    if (this.names.length + this.prefixes.length >= this.req.limit) {
      this.more = true;
      return false;
    }
    (isFolderEntry(entry) ? this.prefixes : this.names).push(entry);
    this.last = entry;
    return true;
  }

  get full(): boolean {
    return this.more;
  }

  page(): NamePage {
    return { names: this.names, prefixes: this.prefixes, nextCursor: this.more ? this.last : null };
  }
}

/** Index of the first name in `sorted[from..]` for which `before(name)` is false (binary search). */
function firstNot(sorted: readonly string[], from: number, before: (name: string) => boolean): number {
  let lo = from;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(sorted[mid] as string)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * One page out of every name, `sorted` by compareNames. A folder costs one binary search to skip,
 * so a page of a folder's top level reads only the names it returns, whatever lies below.
 */
export function pageOf(sorted: readonly string[], req: PageRequest): NamePage {
  const { prefix, cursor } = req;
  const page = new PageBuilder(req);
  let i = firstNot(sorted, 0, (n) => compareNames(n, prefix) < 0);
  if (cursor !== null) i = firstNot(sorted, i, (n) => compareNames(n, cursor) <= 0);
  while (i < sorted.length) {
    const name = sorted[i] as string;
    if (!name.startsWith(prefix)) break;
    const entry = entryOf(name, req);
    const visible = req.includeHidden || !isHiddenName(entry);
    if (visible && afterCursor(entry, req) && !page.offer(entry)) break;
    i = isFolderEntry(entry) ? firstNot(sorted, i, (n) => n.startsWith(entry)) : i + 1;
  }
  return page.page();
}
