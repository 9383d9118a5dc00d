/**
 * Copying folders (`ferry cp -r`): the walk of a local tree or of a remote prefix into one list of
 * files, the checks every name passes before anything is written, and the run that copies several
 * files at once (FILES_IN_FLIGHT), skips the ones already complete (same size and modification
 * time), keeps modification times, and reports one progress bar for the whole tree.
 *
 * Why a module of its own: the single-file copy stays the one copy path (the caller hands it in as
 * `copyFile`); this adds only what a tree needs around it, for `cp -r` now and `sync` later.
 */
import { lstat, mkdir, readdir, unlink, utimes } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import {
  FerryError,
  HIDDEN_PREFIX,
  isFerryError,
  isHiddenName,
  validateName,
  type CopyProgress,
  type CopyStats,
  type FerryClient,
} from '../src/index.js';
import { treeProgressBar } from './progress.js';

/** Files copied at once in a tree copy: enough to hide each file's start and end round trips. */
export const FILES_IN_FLIGHT = 4;

/** Modification times that differ by less than this are the same (hosts round to µs or ns). */
const SAME_MTIME_MS = 1;

export interface TreeFile {
  /** Local path. */
  local: string;
  /** Name on the server. */
  name: string;
  sizeBytes: number;
  mtimeMs: number;
  atimeMs: number;
}

export interface Skipped {
  path: string;
  reason: string;
}

export interface TreePlan {
  /** The server folder the tree maps to: '' (the whole server) or a folder name ending in '/'. */
  prefix: string;
  /** The local folder the tree maps to. */
  root: string;
  files: TreeFile[];
  /** Local folders to create (a download), outermost first. */
  folders: string[];
  skipped: Skipped[];
}

/** Joins name segments under a prefix ('' or ending in '/'). */
function under(prefix: string, segments: readonly string[]): string {
  return prefix + segments.join('/');
}

/**
 * Walks local folder `root` (never following symlinks) into the files to upload under `prefix`
 * ('' or a folder name ending in '/'). Symlinks, special files and empty folders are skipped and
 * listed. Throws BAD_NAME, naming every offending path, when any file's name cannot go to a server;
 * nothing has been sent then.
 */
export async function walkLocal(root: string, prefix: string): Promise<TreePlan> {
  const plan: TreePlan = { prefix, root, files: [], folders: [], skipped: [] };
  const bad: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    const dirents = await readdir(dir, { withFileTypes: true });
    dirents.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
    if (dirents.length === 0 && dir !== root) {
      plan.skipped.push({ path: dir, reason: 'empty folder: a server keeps no empty folders' });
    }
    for (const d of dirents) {
      const path = join(dir, d.name);
      if (d.isDirectory()) await visit(path);
      else if (d.isSymbolicLink()) plan.skipped.push({ path, reason: 'symlink, not followed' });
      else if (!d.isFile()) plan.skipped.push({ path, reason: 'not a regular file' });
      else {
        const name = under(prefix, relative(root, path).split(sep));
        const why = nameProblem(name);
        if (why !== null) {
          bad.push(`${path} (${why})`);
          continue;
        }
        const st = await lstat(path);
        plan.files.push({ local: path, name, sizeBytes: st.size, mtimeMs: st.mtimeMs, atimeMs: st.atimeMs });
      }
    }
  };
  await visit(root);
  if (bad.length > 0) {
    throw new FerryError(
      'BAD_NAME',
      `${bad.length} file(s) cannot be named on a server, so nothing was copied: ${bad.slice(0, 5).join('; ')}` +
        `${bad.length > 5 ? `; and ${bad.length - 5} more` : ''}. Rename them (or move them out of the folder) and copy again`,
    );
  }
  return plan;
}

/** Why `name` cannot be a user's name on a server, or null when it can. */
function nameProblem(name: string): string | null {
  if (isHiddenName(name)) return `names starting with "${HIDDEN_PREFIX}" are reserved for ferry`;
  try {
    validateName(name);
    return null;
  } catch (err) {
    return isFerryError(err) ? err.message : String(err);
  }
}

/**
 * Walks remote folder `prefix` ('' for everything, else ending in '/') level by level into the files
 * to download below local folder `root`, and the folders the listing shows. A name the server
 * sends that is not below the prefix, or not a valid name, fails with PROTOCOL_ERROR.
 */
export async function walkRemote(client: FerryClient, prefix: string, root: string): Promise<TreePlan> {
  const plan: TreePlan = { prefix, root, files: [], folders: [root], skipped: [] };
  const localOf = (name: string): string => {
    if (!name.startsWith(prefix) || nameProblem(name.endsWith('/') ? name.slice(0, -1) : name) !== null) {
      throw new FerryError('PROTOCOL_ERROR', `the server listed '${name}', which is not below '${prefix}'`);
    }
    return join(
      root,
      ...name
        .slice(prefix.length)
        .split('/')
        .filter((s) => s !== ''),
    );
  };
  const queue = [prefix];
  for (let folder = queue.shift(); folder !== undefined; folder = queue.shift()) {
    for await (const page of client.pages({ prefix: folder, delimiter: '/' })) {
      for (const e of page.entries) {
        plan.files.push({
          local: localOf(e.name),
          name: e.name,
          sizeBytes: e.sizeBytes,
          mtimeMs: e.mtimeMs,
          atimeMs: e.atimeMs,
        });
      }
      for (const p of page.prefixes ?? []) {
        plan.folders.push(localOf(p));
        queue.push(p);
      }
    }
  }
  return plan;
}

/** True when local `path` is a regular file of `sizeBytes` bytes modified at `mtimeMs`. */
async function localComplete(path: string, sizeBytes: number, mtimeMs: number): Promise<boolean> {
  try {
    const st = await lstat(path);
    return st.isFile() && st.size === sizeBytes && Math.abs(st.mtimeMs - mtimeMs) < SAME_MTIME_MS;
  } catch {
    return false;
  }
}

/** The files already on the server below `prefix`, by name (for skipping complete ones). */
async function remoteFiles(
  client: FerryClient,
  prefix: string,
): Promise<Map<string, { size: number; mtime: number }>> {
  const out = new Map<string, { size: number; mtime: number }>();
  for await (const page of client.pages({ prefix })) {
    for (const e of page.entries) out.set(e.name, { size: e.sizeBytes, mtime: e.mtimeMs });
  }
  return out;
}

export interface TreeRunOptions {
  direction: 'upload' | 'download';
  progress: boolean;
  /**
   * Remove what the destination holds below the tree's prefix (upload) or root (download) that the
   * source does not (sync --delete): server files, or local regular files and symlinks.
   */
  deleteExtra?: boolean;
  /** Copies one file with the single-file copy path, reporting its progress. */
  copyFile: (file: TreeFile, onProgress: (p: CopyProgress) => void) => Promise<CopyStats>;
}

export interface TreeSummary {
  direction: 'upload' | 'download';
  files: number;
  /** Files found already complete and not copied again. */
  alreadyThere: number;
  bytes: number;
  bytesMoved: number;
  /** Files removed from the destination (deleteExtra). */
  deleted: number;
  seconds: number;
  skipped: Skipped[];
}

/**
 * Copies the files of `plan`, FILES_IN_FLIGHT at a time, skipping those already complete at the
 * destination (same size and modification time: what a killed run left finished), then sets each
 * copy's modification time to its source's. The first failure stops new files from starting and
 * is thrown once the files in flight settle; running the same copy again resumes.
 */
export async function runTree(
  client: FerryClient,
  plan: TreePlan,
  opts: TreeRunOptions,
): Promise<TreeSummary> {
  const startMs = performance.now();
  const totalBytes = plan.files.reduce((n, f) => n + f.sizeBytes, 0);
  if (opts.direction === 'download') for (const dir of plan.folders) await mkdir(dir, { recursive: true });
  const present = opts.direction === 'upload' ? await remoteFiles(client, plan.prefix) : new Map();
  const bar = treeProgressBar(plan.files.length, totalBytes, opts.progress);
  let alreadyThere = 0;
  let bytesMoved = 0;
  let next = 0;
  let failure: unknown = null;
  const worker = async (): Promise<void> => {
    while (failure === null && next < plan.files.length) {
      const f = plan.files[next++]!;
      try {
        const there = present.get(f.name);
        const complete =
          opts.direction === 'upload'
            ? there !== undefined &&
              there.size === f.sizeBytes &&
              Math.abs(there.mtime - f.mtimeMs) < SAME_MTIME_MS
            : await localComplete(f.local, f.sizeBytes, f.mtimeMs);
        if (complete) {
          alreadyThere++;
          bar.add(f.sizeBytes);
        } else {
          let shown = 0;
          const s = await opts.copyFile(f, (p) => {
            bar.add(p.bytesDone - shown);
            shown = p.bytesDone;
          });
          bar.add(f.sizeBytes - shown);
          bytesMoved += s.bytesMoved;
          if (opts.direction === 'upload') await client.setTimes(f.name, f.atimeMs, f.mtimeMs);
          else await utimes(f.local, f.atimeMs / 1000, f.mtimeMs / 1000);
        }
        bar.fileDone();
      } catch (err) {
        failure ??= err;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(FILES_IN_FLIGHT, plan.files.length) }, worker));
  } finally {
    bar.stop();
  }
  if (failure !== null) throw failure;
  let deleted = 0;
  if (opts.deleteExtra === true) {
    if (opts.direction === 'upload') {
      const keep = new Set(plan.files.map((f) => f.name));
      for (const name of present.keys()) {
        if (!keep.has(name)) {
          await client.unlink(name);
          deleted++;
        }
      }
    } else {
      const keep = new Set(plan.files.map((f) => f.local));
      for (const path of await localFiles(plan.root)) {
        if (!keep.has(path)) {
          await unlink(path);
          deleted++;
        }
      }
    }
  }
  return {
    direction: opts.direction,
    files: plan.files.length,
    alreadyThere,
    bytes: totalBytes,
    bytesMoved,
    deleted,
    seconds: Number(((performance.now() - startMs) / 1000).toFixed(3)),
    skipped: plan.skipped,
  };
}

/** Every regular file and symlink below local folder `root` (symlinks not followed). */
async function localFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    for (const d of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, d.name);
      if (d.isDirectory()) await visit(path);
      else if (d.isFile() || d.isSymbolicLink()) out.push(path);
    }
  };
  await visit(root);
  return out;
}

/** The last segment of a local path (of its absolute form: `.` is the current folder's name). */
export function folderName(path: string): string {
  return basename(resolve(path));
}
