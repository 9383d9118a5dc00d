/**
 * Unmounting a FUSE mount from outside the process that serves it, including a stale one.
 *
 * Why this order: a healthy server answers its requests, and a plain `fusermount -u` is all it needs
 * (the server sees its mount go and stops). A mount whose server died answers ENOTCONN: it is
 * detached (lazily if programs still hold files open). A server that hangs leaves callers stuck in
 * state D: when requests stay waiting past a grace period, the connection is aborted through
 * fusectl (/sys/fs/fuse/connections/ID/abort), which fails them with ENOTCONN, and then detached.
 * Nothing here touches the mountpoint itself, which could block.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FerryError } from '../core/index.js';
import { findFuseMount } from './mount-table.js';

const FUSECTL = '/sys/fs/fuse/connections';
/** fusermount is quick; a hung one is killed after this. */
const FUSERMOUNT_TIMEOUT_MS = 10_000;
const WAITING_POLL_MS = 100;

export interface UnmountOptions {
  /** How long requests may stay waiting before the connection is aborted (default 2000). */
  graceMs?: number;
}

export interface UnmountReport {
  mountpoint: string;
  /** Detached lazily (files were still open, or the server was gone). */
  lazy: boolean;
  /** The FUSE connection was aborted because requests stayed stuck. */
  aborted: boolean;
}

/** Unmounts the FUSE mount at `mountpoint`; NOT_MOUNTED when there is none. */
export async function unmountFuse(mountpoint: string, opts: UnmountOptions = {}): Promise<UnmountReport> {
  const graceMs = opts.graceMs ?? 2000;
  const abs = path.resolve(mountpoint);
  const entry = await findFuseMount(abs);
  if (entry === null) {
    throw new FerryError('NOT_MOUNTED', `nothing FUSE is mounted at ${abs}`, { mountpoint: abs });
  }
  const conn = await connectionDir(entry.deviceMinor);
  let aborted = false;
  if (conn !== null && !(await settles(conn, graceMs))) {
    await writeFile(path.join(conn, 'abort'), '1');
    aborted = true;
  }
  let lazy = false;
  if (!(await fusermount(['-u', abs]))) {
    lazy = true;
    if (!(await fusermount(['-uz', abs])) && (await findFuseMount(abs)) !== null) {
      throw new FerryError('UNMOUNT_FAILED', `fusermount could not unmount ${abs}`, { mountpoint: abs });
    }
  }
  return { mountpoint: abs, lazy, aborted };
}

/** The fusectl folder of connection `id`, mounting fusectl first if needed; null if unavailable. */
async function connectionDir(id: number): Promise<string | null> {
  if (id < 0 || !existsSync(FUSECTL)) return null;
  if ((await readdir(FUSECTL)).length === 0) {
    await run('mount', ['-t', 'fusectl', 'fusectl', FUSECTL]);
  }
  const dir = path.join(FUSECTL, String(id));
  return existsSync(dir) ? dir : null;
}

/** True when the connection has no waiting requests, now or within `graceMs`. */
async function settles(conn: string, graceMs: number): Promise<boolean> {
  const rounds = Math.max(1, Math.ceil(graceMs / WAITING_POLL_MS));
  for (let i = 0; i < rounds; i++) {
    const waiting = Number((await readFile(path.join(conn, 'waiting'), 'utf8').catch(() => '0')).trim());
    if (!(waiting > 0)) return true;
    await new Promise((r) => setTimeout(r, WAITING_POLL_MS));
  }
  return false;
}

function fusermount(args: string[]): Promise<boolean> {
  return run('fusermount', args);
}

/** Runs a command; true when it exits 0. */
function run(cmd: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: FUSERMOUNT_TIMEOUT_MS }, (err) => resolve(err === null));
  });
}
