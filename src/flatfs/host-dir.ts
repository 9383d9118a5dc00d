/**
 * Reading a host directory as a flat namespace: which entries are files the directory backend
 * serves, and their sizes and times.
 *
 * Why: the directory backend works on directories that already hold things. Only regular files
 * whose names are valid ferry names (and whose bytes are valid UTF-8, so the name round-trips) are
 * files of the flat filesystem; subdirectories, symlinks, devices and undecodable names are not
 * there as far as callers can tell, and no call ever follows a symlink out of the root.
 */
import { promises as fsp, type Stats } from 'node:fs';
import { LIMITS } from '../core/limits.js';
import { errnoOf, hostError } from './host-errors.js';
import { isValidName } from './names.js';
import type { FileStat } from './types.js';

/** Names of the regular files in `root` that are valid ferry names (unsorted). */
export async function readFileNames(root: string): Promise<string[]> {
  let entries;
  try {
    entries = await fsp.readdir(root, { withFileTypes: true, encoding: 'buffer' });
  } catch (err) {
    throw hostError(err, `listing the root directory '${root}'`);
  }
  const names: string[] = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue; // the entry type is lstat's (Node resolves unknown types)
    const raw = entry.name as unknown as Buffer;
    const name = raw.toString('utf8');
    if (!Buffer.from(name, 'utf8').equals(raw) || !isValidName(name)) continue;
    names.push(name);
  }
  return names;
}

/** lstat of a root entry, or null when there is none (or it vanished). */
export async function lstatOrNull(filePath: string): Promise<Stats | null> {
  try {
    return await fsp.lstat(filePath);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return null;
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
      const stat = await lstatOrNull(`${root}/${name}`);
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
  const files = await statRegularFiles(root, await readFileNames(root));
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
