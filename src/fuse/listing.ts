/**
 * One level of one folder of a FlatFs, page by page: the files and subfolders directly inside a
 * prefix, for `readdir` and for the "is this a folder" test of `getattr`.
 *
 * Why a roll-up of our own: a backend that understands `prefix` and `delimiter` (memory, directory)
 * returns one level with the subfolders in `prefixes`; one that does not (the remote client until it
 * carries them over the wire) returns every name at every depth, without a `prefixes` field. Such a
 * page is filtered by the prefix and cut at the next `/` here, so the mount is correct over every
 * backend now, and fast once the backend rolls up. Legacy pages are sorted by name, so the walk
 * jumps to the prefix with the cursor and stops at the first name past it.
 */
import { compareNames, SEPARATOR } from '../flatfs/names.js';
import type { FileStat, FlatFs, ListPage } from '../flatfs/types.js';

/** Page size once a backend turns out not to roll up (it then pages through every name). */
const LEGACY_PAGE_ITEMS = 1000;

/** One page of one level: files by their name inside the folder, subfolders by their segment. */
export interface LevelPage {
  files: Array<{ name: string; stat: FileStat }>;
  folders: string[];
}

/**
 * The files and subfolders directly inside `prefix` (`` or ending in `/`) on one backend page.
 * `done` is true when a legacy page already went past every name under the prefix.
 */
export function rollUp(page: ListPage, prefix: string): LevelPage & { done: boolean } {
  const files: LevelPage['files'] = [];
  if (page.prefixes !== undefined) {
    for (const e of page.entries) {
      if (!e.name.startsWith(prefix)) continue;
      const rest = e.name.slice(prefix.length);
      if (rest.length > 0 && !rest.includes(SEPARATOR)) files.push({ name: rest, stat: e });
    }
    const folders: string[] = [];
    for (const p of page.prefixes) {
      if (!p.startsWith(prefix) || !p.endsWith(SEPARATOR)) continue;
      const seg = p.slice(prefix.length, -1);
      if (seg.length > 0 && !seg.includes(SEPARATOR)) folders.push(seg);
    }
    return { files, folders, done: false };
  }
  const folders: string[] = [];
  let done = false;
  for (const e of page.entries) {
    if (!e.name.startsWith(prefix)) {
      if (compareNames(e.name, prefix) > 0) {
        done = true;
        break;
      }
      continue;
    }
    const rest = e.name.slice(prefix.length);
    const cut = rest.indexOf(SEPARATOR);
    if (cut < 0) files.push({ name: rest, stat: e });
    else if (folders[folders.length - 1] !== rest.slice(0, cut)) folders.push(rest.slice(0, cut));
  }
  return { files, folders, done };
}

/**
 * Pages of one level of `prefix`, `pageLimit` backend items at a time, until the folder ends or the
 * consumer stops. A folder met on two legacy pages is yielded once.
 */
export async function* listLevel(fs: FlatFs, prefix: string, pageLimit: number): AsyncGenerator<LevelPage> {
  let cursor: string | undefined;
  let lastFolder: string | undefined;
  for (;;) {
    const page = await fs.list({ prefix, delimiter: SEPARATOR, limit: pageLimit, cursor });
    const level = rollUp(page, prefix);
    if (page.prefixes === undefined) {
      if (level.folders[0] !== undefined && level.folders[0] === lastFolder) level.folders.shift();
      if (level.folders.length > 0) lastFolder = level.folders[level.folders.length - 1];
    }
    yield { files: level.files, folders: level.folders };
    if (level.done || page.nextCursor === null || page.nextCursor === cursor) return;
    cursor = page.nextCursor;
    if (page.prefixes === undefined) pageLimit = Math.max(pageLimit, LEGACY_PAGE_ITEMS);
    // A backend that ignores the prefix starts at the first name: jump to the folder's own name,
    // which sorts just before everything in it (a valid key, so every backend takes it as cursor).
    if (page.prefixes === undefined && prefix !== '') {
      const jump = prefix.slice(0, -1);
      if (compareNames(cursor, jump) < 0) cursor = jump;
    }
  }
}

/** True when at least one file has a name under `prefix` (a one-item listing on a rolling backend). */
export async function anyUnder(fs: FlatFs, prefix: string): Promise<boolean> {
  for await (const level of listLevel(fs, prefix, 1)) {
    if (level.files.length > 0 || level.folders.length > 0) return true;
  }
  return false;
}

/** Every file name at any depth under `prefix`, in order; null when there are more than `max`. */
export async function allUnder(
  fs: FlatFs,
  prefix: string,
  max: number,
  pageLimit: number,
): Promise<string[] | null> {
  const out: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await fs.list({ prefix, limit: pageLimit, cursor });
    let done = false;
    for (const e of page.entries) {
      if (e.name.startsWith(prefix)) {
        out.push(e.name);
        if (out.length > max) return null;
      } else if (compareNames(e.name, prefix) > 0) {
        done = true;
        break;
      }
    }
    if (done || page.nextCursor === null || page.nextCursor === cursor) return out;
    cursor = page.nextCursor;
    if (page.prefixes === undefined && prefix !== '') {
      const jump = prefix.slice(0, -1);
      if (compareNames(cursor, jump) < 0) cursor = jump;
    }
  }
}
