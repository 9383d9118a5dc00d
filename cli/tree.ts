/**
 * Copying folders (`ferry cp -r`, `ferry sync`): the walk of a local tree or of a remote prefix into
 * one list of files, the checks every name passes before anything is written, and the run that
 * skips the files already complete (same size and modification time, or with `checksum` the same
 * whole-file hash), moves small files several per message (UPLOAD_FILES, DOWNLOAD_FILES) and the
 * others on their own, several pieces at once (FILES_IN_FLIGHT), keeps modification times, and
 * reports one progress bar for the whole tree.
 *
 * Why a module of its own: the single-file copy stays the one copy path for a file sent alone (the
 * caller hands it in as `copyFile`); this adds only what a tree needs around it.
 */
import { lstatSync } from 'node:fs';
import { lstat, mkdir, open, readdir, unlink, utimes } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import {
  FerryError,
  HIDDEN_PREFIX,
  isFerryError,
  isHiddenName,
  validateName,
  BATCH_LIMITS,
  localFileHash,
  SMALL_FILE_MAX_BYTES,
  smallFileBatchBytes,
  writeWholeFile,
  type BatchResult,
  type DownloadBatchResult,
  type SmallFile,
  type CopyProgress,
  type CopyStats,
  type FerryClient,
} from '../src/index.js';
import { treeProgressBar } from './progress.js';

/** Pieces (a file, or a batch of small files) copied at once: enough to hide each one's round trips. */
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
    // in UTF-8 byte order, as the server lists (each name's bytes made once, not per comparison)
    const dirents = (await readdir(dir, { withFileTypes: true }))
      .map((d) => ({ d, key: Buffer.from(d.name) }))
      .sort((a, b) => Buffer.compare(a.key, b.key))
      .map(({ d }) => d);
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
        // lstatSync: a third of the cost of the promise form, and the loop still turns between folders
        const st = lstatSync(path);
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

/** Local file `path` as a regular file's size and modification time, or null when it is none. */
async function localStat(path: string): Promise<{ size: number; mtime: number } | null> {
  try {
    const st = await lstat(path);
    return st.isFile() ? { size: st.size, mtime: st.mtimeMs } : null;
  } catch {
    return null;
  }
}

/** What the server holds below a prefix: size and mtime by name. */
export type RemoteListing = Map<string, { size: number; mtime: number }>;

/** The files already on the server below `prefix`, by name (for skipping complete ones). */
export async function listRemote(client: FerryClient, prefix: string): Promise<RemoteListing> {
  const out: RemoteListing = new Map();
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
  /**
   * Tell files apart by content (sync --checksum): a destination file of the same size is the same
   * when its whole-file xxhash64 (the server's FILE_HASH, the local file read through) matches,
   * whatever its modification time, which is then set to the source's. Default: the same size and
   * mtime is the same file, and a file of the same size and another mtime is compared by content
   * (so only its time is set when the bytes match).
   */
  checksum?: boolean;
  /**
   * Move files of at most SMALL_FILE_MAX_BYTES several per message (UPLOAD_FILES, DOWNLOAD_FILES;
   * default true). A server from before is noticed at the first batch; every file goes on its own then.
   */
  batchSmall?: boolean;
  /** The server's listing of the plan's prefix (an upload), when the caller started it already. */
  present?: Promise<RemoteListing>;
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
  /** Files sent several per message, and the messages (UPLOAD_FILES) that carried them. */
  filesBatched: number;
  batches: number;
  /** Files whose whole-file hash was compared (checksum). */
  filesHashed: number;
  /** Files removed from the destination (deleteExtra). */
  deleted: number;
  seconds: number;
  skipped: Skipped[];
}

/** Files whose destination is checked at once (a stat, or with checksum two whole-file hashes). */
export const CHECKS_IN_FLIGHT = 8;

/** What a destination file is to its source: the same, the same bytes with other times, or not. */
type Likeness = 'same' | 'times' | 'differs';

/** A piece of the copy: one file on its own, or several small ones in one message. */
type Unit = { file: TreeFile } | { batch: TreeFile[] };

/** Runs `work` over `items`, `width` at a time, stopping new ones after the first failure (thrown). */
async function pool<T>(
  items: readonly T[],
  width: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: unknown = null;
  const worker = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      const index = next++;
      try {
        await work(items[index]!, index);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  if (failure !== null) throw failure;
}

/**
 * Copies the files of `plan`: first each destination file is compared with its source (same size
 * and modification time, or with `checksum` the same whole-file hash: what a killed run left
 * finished is not sent again), then what differs is sent, FILES_IN_FLIGHT pieces at a time - small
 * files several per message, the others on their own - and each copy gets its
 * source's modification time. The first failure stops new pieces from starting and is thrown once
 * the pieces in flight settle; running the same copy again resumes.
 */
export async function runTree(
  client: FerryClient,
  plan: TreePlan,
  opts: TreeRunOptions,
): Promise<TreeSummary> {
  const startMs = performance.now();
  const upload = opts.direction === 'upload';
  const totalBytes = plan.files.reduce((n, f) => n + f.sizeBytes, 0);
  if (!upload) for (const dir of plan.folders) await mkdir(dir, { recursive: true });
  const present = upload ? await (opts.present ?? listRemote(client, plan.prefix)) : new Map();
  const bar = treeProgressBar(plan.files.length, totalBytes, opts.progress);
  const counts = { alreadyThere: 0, bytesMoved: 0, filesBatched: 0, batches: 0, filesHashed: 0 };

  const likeness = async (f: TreeFile): Promise<Likeness> => {
    const there: { size: number; mtime: number } | null | undefined = upload
      ? present.get(f.name)
      : await localStat(f.local);
    if (there === undefined || there === null || there.size !== f.sizeBytes) return 'differs';
    const sameTime = Math.abs(there.mtime - f.mtimeMs) < SAME_MTIME_MS;
    if (sameTime && opts.checksum !== true) return 'same';
    // Same size, other time: compared by content before anything is sent. A copy whose time was
    // never set (a run killed between a file's commit and its SET_TIMES) is then not sent again.
    const hashes = await Promise.all([client.fileHash(f.name), localFileHash(f.local)]).catch(
      (err: unknown) => {
        if (!isFerryError(err, 'UNKNOWN_REQUEST')) throw err;
        if (opts.checksum !== true) return null; // a server from before: copy it
        throw new FerryError(
          'NOT_SUPPORTED',
          'the server cannot hash files (it predates FILE_HASH): update it, or sync without --checksum',
        );
      },
    );
    if (hashes === null) return 'differs';
    counts.filesHashed++;
    const [remote, local] = hashes;
    if (remote.fileHash !== local.fileHash || remote.sizeBytes !== local.sizeBytes) return 'differs';
    return sameTime ? 'same' : 'times';
  };
  const setTimes = async (f: TreeFile): Promise<void> => {
    if (upload) await client.setTimes(f.name, f.atimeMs, f.mtimeMs);
    else await utimes(f.local, f.atimeMs / 1000, f.mtimeMs / 1000);
  };

  const toCopy: TreeFile[] = [];
  try {
    const differs = new Uint8Array(plan.files.length);
    await pool(plan.files, CHECKS_IN_FLIGHT, async (f, i) => {
      const l = await likeness(f);
      if (l === 'differs') differs[i] = 1;
      if (l === 'differs') return;
      if (l === 'times') await setTimes(f);
      counts.alreadyThere++;
      bar.add(f.sizeBytes);
      bar.fileDone();
    });
    plan.files.forEach((f, i) => {
      if (differs[i] === 1) toCopy.push(f);
    });

    let batching = opts.batchSmall !== false;
    const copyAlone = async (f: TreeFile): Promise<void> => {
      let shown = 0;
      const s = await opts.copyFile(f, (p) => {
        bar.add(p.bytesDone - shown);
        shown = p.bytesDone;
      });
      bar.add(f.sizeBytes - shown);
      counts.bytesMoved += s.bytesMoved;
      await setTimes(f);
      bar.fileDone();
    };
    const doneInBatch = (f: TreeFile): void => {
      counts.filesBatched++;
      counts.bytesMoved += f.sizeBytes;
      bar.add(f.sizeBytes);
      bar.fileDone();
    };
    const downloadBatch = async (files: TreeFile[]): Promise<void> => {
      let got: DownloadBatchResult;
      try {
        got = await client.downloadFiles(files.map((f) => f.name));
      } catch (err) {
        if (!isFerryError(err, 'UNKNOWN_REQUEST')) throw err;
        batching = false; // a server from before: every file on its own from here on
        for (const f of files) await copyAlone(f);
        return;
      }
      counts.batches++;
      for (const [i, w] of got.files.entries()) {
        const f = files[i]!;
        await writeWholeFile(f.local, w);
        doneInBatch({ ...f, sizeBytes: w.data.length });
      }
      // what the server did not send (it no longer fits, or it failed): on its own, which says why
      for (const f of files.slice(got.files.length)) await copyAlone(f);
    };
    const copyBatch = async (files: TreeFile[]): Promise<void> => {
      if (!batching) {
        for (const f of files) await copyAlone(f);
        return;
      }
      if (!upload) return downloadBatch(files);
      const read = await Promise.all(files.map(readSmallFile));
      const fits = read.filter((r) => r.small !== null);
      for (const r of read) if (r.small === null) await copyAlone(r.file); // changed since the walk
      if (fits.length === 0) return;
      let result: BatchResult;
      try {
        result = await client.uploadFiles(fits.map((r) => r.small!));
      } catch (err) {
        if (!isFerryError(err, 'UNKNOWN_REQUEST')) throw err;
        batching = false; // a server from before: every file on its own from here on
        for (const r of fits) await copyAlone(r.file);
        return;
      }
      counts.batches++;
      result.committed.forEach((ok, i) => {
        if (ok) doneInBatch(fits[i]!.file);
      });
      if (result.error !== null) throw result.error;
    };
    await pool(unitsOf(toCopy, batching), FILES_IN_FLIGHT, (u) =>
      'file' in u ? copyAlone(u.file) : copyBatch(u.batch),
    );
  } finally {
    bar.stop();
  }
  let deleted = 0;
  if (opts.deleteExtra === true) {
    if (upload) {
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
    ...counts,
    bytes: totalBytes,
    deleted,
    seconds: Number(((performance.now() - startMs) / 1000).toFixed(3)),
    skipped: plan.skipped,
  };
}

/**
 * The pieces of a copy, in the files' order: with `batching`, runs of files of at most
 * SMALL_FILE_MAX_BYTES grouped within BATCH_LIMITS (the sizes the walk saw), every other file on
 * its own.
 */
function unitsOf(files: readonly TreeFile[], batching: boolean): Unit[] {
  const units: Unit[] = [];
  let batch: TreeFile[] = [];
  let batchBytes = 0;
  const close = (): void => {
    if (batch.length > 0) units.push({ batch });
    batch = [];
    batchBytes = 0;
  };
  for (const f of files) {
    if (!batching || f.sizeBytes > SMALL_FILE_MAX_BYTES) {
      units.push({ file: f });
      continue;
    }
    const bytes = smallFileBatchBytes(f.name, f.sizeBytes);
    if (batch.length >= BATCH_LIMITS.maxFiles || batchBytes + bytes > BATCH_LIMITS.maxBytes) close();
    batch.push(f);
    batchBytes += bytes;
  }
  close();
  return units;
}

/**
 * Reads a small file whole for a batch, with its mode; `small` is null when it no longer has the
 * size the walk saw (it changed since: it is sent on its own, which reads it as it is then).
 */
async function readSmallFile(file: TreeFile): Promise<{ file: TreeFile; small: SmallFile | null }> {
  const fh = await open(file.local, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size !== file.sizeBytes) return { file, small: null };
    const data = Buffer.allocUnsafe(st.size);
    let at = 0;
    while (at < data.length) {
      const { bytesRead } = await fh.read(data, at, data.length - at, at);
      if (bytesRead === 0) return { file, small: null };
      at += bytesRead;
    }
    return {
      file,
      small: { name: file.name, mode: st.mode & 0o777, mtimeMs: file.mtimeMs, atimeMs: file.atimeMs, data },
    };
  } finally {
    await fh.close();
  }
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
