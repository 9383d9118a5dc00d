/**
 * Reading a host directory tree as a flat namespace: which entries are files the directory backend
 * serves, which are folders, and their sizes and times.
 *
 * Why: the directory backend works on directories that already hold things. A name `a/b/c` is the
 * host path `root/a/b/c`; only regular files whose names are valid ferry names (bytes valid UTF-8,
 * so the name round-trips) and whose every folder is a real host directory are files of the flat
 * filesystem. Symlinks (to files or folders), devices and undecodable names are not there as far
 * as callers can tell: walks use the entry types of readdir (lstat's), so they never descend
 * through a symlink out of the root.
 */
import { promises as fsp, type Stats } from 'node:fs';
import type { FileHandle as HostFile } from 'node:fs/promises';
import { LIMITS } from '../core/limits.js';
import { errnoOf, hostError } from './host-errors.js';
import { SEPARATOR } from './names.js';
import type { FileStat } from './types.js';

/** The host path of a name or folder key (`''` is the root). */
export function hostPath(root: string, key: string): string {
  return key === '' ? root : `${root}/${key}`;
}

/** Entries a host folder is read in at a time (opendir's buffer): memory stays flat in any folder. */
const SCAN_BATCH_ENTRIES = 1024;

/**
 * Streams the entries of folder `folder` (`''` or `a/b/`) that are files or folders of the flat
 * filesystem, as keys (`a/b/name`, or `a/b/name/` for a folder), in the host's order, until `visit`
 * returns false; resolves to false then, true when the folder is done (or gone). A folder of a
 * million entries is never held in memory.
 */
export async function scanFolder(
  root: string,
  folder: string,
  visit: (key: string, isFolder: boolean) => boolean,
): Promise<boolean> {
  let dir;
  try {
    dir = await fsp.opendir(hostPath(root, folder), {
      // Names as bytes, so undecodable ones can be told apart (the typings know only text encodings).
      encoding: 'buffer' as BufferEncoding,
      bufferSize: SCAN_BATCH_ENTRIES,
    });
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return true;
    throw hostError(err, `listing the folder '${folder === '' ? root : folder}'`);
  }
  const folderBytes = Buffer.byteLength(folder, 'utf8');
  try {
    // for-await closes the directory when the loop ends, and when it is left early.
    for await (const entry of dir) {
      // The entry type is lstat's (Node resolves unknown types): symlinks are neither.
      const isFolder = entry.isDirectory();
      if (!isFolder && !entry.isFile()) continue;
      const raw = entry.name as unknown as Buffer;
      if (!isSegment(raw) || folderBytes + raw.length > LIMITS.MAX_NAME_BYTES) continue;
      const name = raw.toString('utf8');
      // Bytes that are not UTF-8 decode to U+FFFD: no name round-trips to them.
      if (name.includes('\uFFFD') && !Buffer.from(name, 'utf8').equals(raw)) continue;
      if (!visit(isFolder ? `${folder}${name}${SEPARATOR}` : folder + name, isFolder)) return false;
    }
  } catch (err) {
    throw hostError(err, `listing the folder '${folder === '' ? root : folder}'`);
  }
  return true;
}

/** A host entry name that is a valid segment: 1..MAX_SEGMENT_BYTES, not `.` or `..` (no `/` or NUL can occur). */
function isSegment(raw: Buffer): boolean {
  if (raw.length === 0 || raw.length > LIMITS.MAX_SEGMENT_BYTES) return false;
  const dots = raw.length <= 2 && raw.every((b) => b === 0x2e);
  return !dots;
}

/** Every file name in the tree (hidden ones too), in no particular order. */
export async function allFileNames(root: string): Promise<string[]> {
  const names: string[] = [];
  const folders = [''];
  for (let folder = folders.pop(); folder !== undefined; folder = folders.pop()) {
    await scanFolder(root, folder, (key, isFolder) => {
      (isFolder ? folders : names).push(key);
      return true;
    });
  }
  return names;
}

/** True when folder `folder` (`a/`) holds a served file at some depth (stops at the first). */
export async function holdsFiles(root: string, folder: string): Promise<boolean> {
  const folders = [folder];
  for (let next = folders.pop(); next !== undefined; next = folders.pop()) {
    let found = false;
    await scanFolder(root, next, (key, isFolder) => {
      if (isFolder) folders.push(key);
      else found = true;
      return !found;
    });
    if (found) return true;
  }
  return false;
}

/**
 * False when the host says the open `file` is not at `realPath` (a folder on the way was swapped
 * for a symlink after it was checked). Where /proc is missing, the checks before the open stand
 * alone and this says true.
 */
export async function isOpenedAt(file: HostFile, realPath: string): Promise<boolean> {
  const real = await fsp.readlink(`/proc/self/fd/${file.fd}`).catch(() => null);
  return real === null || real === realPath;
}

/** lstat of an entry, or null when there is none (or it vanished). */
export async function lstatOrNull(filePath: string): Promise<Stats | null> {
  try {
    return await fsp.lstat(filePath);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return null;
    throw hostError(err, `looking up '${filePath}'`);
  }
}

/** lstat of many entries with bounded concurrency; regular files only, in the order given. */
export async function statRegularFiles(
  root: string,
  names: readonly string[],
): Promise<Array<{ name: string; stat: Stats }>> {
  const found: Array<{ name: string; stat: Stats } | null> = new Array(names.length).fill(null);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < names.length; i = next++) {
      const name = names[i] as string;
      const stat = await lstatOrNull(hostPath(root, name));
      if (stat?.isFile()) found[i] = { name, stat };
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(LIMITS.FLATFS_DIR_STAT_CONCURRENCY, names.length) }, worker),
  );
  return found.filter((f): f is { name: string; stat: Stats } => f !== null);
}

/** The total size of the served files in `root` (what a quota starts from). */
export async function sumFileBytes(root: string): Promise<number> {
  const files = await statRegularFiles(root, await allFileNames(root));
  return files.reduce((sum, f) => sum + f.stat.size, 0);
}

export function fileStatOf(name: string, stat: Stats): FileStat {
  return {
    name,
    sizeBytes: stat.size,
    mtimeMs: stat.mtimeMs,
    atimeMs: stat.atimeMs,
    ctimeMs: stat.ctimeMs,
    mode: stat.mode & 0o777,
  };
}
