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
import { SEPARATOR, compareNames, isValidName } from './names.js';
import type { FileStat } from './types.js';

/** The files and folders directly in one host folder, as keys: `dir/name` and `dir/name/`. */
export interface FolderEntries {
  files: string[];
  folders: string[];
}

/** The host path of a name or folder key (`''` is the root). */
export function hostPath(root: string, key: string): string {
  return key === '' ? root : `${root}/${key}`;
}

/**
 * The entries of folder `folder` (`''` or `a/b/`) whose keys are valid names (unsorted); none when
 * the folder is gone.
 */
export async function readFolder(root: string, folder: string): Promise<FolderEntries> {
  let entries;
  try {
    entries = await fsp.readdir(hostPath(root, folder), { withFileTypes: true, encoding: 'buffer' });
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return { files: [], folders: [] };
    throw hostError(err, `listing the folder '${folder === '' ? root : folder}'`);
  }
  const out: FolderEntries = { files: [], folders: [] };
  for (const entry of entries) {
    const raw = entry.name as unknown as Buffer;
    const name = raw.toString('utf8');
    if (!Buffer.from(name, 'utf8').equals(raw)) continue;
    const key = folder + name;
    // The entry type is lstat's (Node resolves unknown types): symlinks are neither.
    if (entry.isFile() && isValidName(key)) out.files.push(key);
    else if (entry.isDirectory() && isValidName(key)) out.folders.push(key + SEPARATOR);
  }
  return out;
}

/**
 * Every file name under `folder`, at any depth, in name order, handed to `visit` until it returns
 * false; folders are read one at a time, in order, and only as far as the walk gets. `skip(folder)`
 * true leaves a whole folder unread (the listing uses it for folders before its cursor).
 */
export async function walkFiles(
  root: string,
  folder: string,
  visit: (entry: string) => boolean | Promise<boolean>,
  skip: (folder: string) => boolean = () => false,
): Promise<boolean> {
  const { files, folders } = await readFolder(root, folder);
  const entries = [...files, ...folders].sort(compareNames);
  for (const entry of entries) {
    if (!entry.endsWith(SEPARATOR)) {
      if (!(await visit(entry))) return false;
    } else if (!skip(entry) && !(await walkFiles(root, entry, visit, skip))) {
      return false;
    }
  }
  return true;
}

/** Every file name in the tree (hidden ones too), in name order. */
export async function allFileNames(root: string): Promise<string[]> {
  const names: string[] = [];
  await walkFiles(root, '', (name) => {
    names.push(name);
    return true;
  });
  return names;
}

/** True when folder `folder` (`a/`) holds a served file at some depth (stops at the first). */
export async function holdsFiles(root: string, folder: string): Promise<boolean> {
  return !(await walkFiles(root, folder, () => false));
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
  };
}
