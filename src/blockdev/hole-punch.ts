/**
 * Punching a hole in an open file: fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE).
 *
 * Why a child process: Node has no fallocate binding, and ferry takes no native addon for one call.
 * util-linux's `fallocate` does the system call on `/proc/<our pid>/fd/<fd>`, which names the very
 * file we hold open (even if it was renamed or unlinked since). It costs a few milliseconds per call,
 * so the file backend uses it only for ranges of at least BLOCKDEV_FILE_PUNCH_MIN_BYTES and writes
 * zeros for shorter ones. Partial filesystem blocks at the edges of the range are zeroed by the
 * kernel, whole blocks are freed; the file size never changes.
 *
 * The promise settles only after the child has exited (a timed-out child is killed first), so a
 * caller that falls back to writing zeros can never have its writes undone by a late punch.
 */
import { execFile } from 'node:child_process';

/** Outcome of one punch: done, or the reason it was not (so the caller writes zeros instead). */
export type PunchResult = { ok: true } | { ok: false; reason: string };

/** Punches [offset, offset+length) of the file open as `fd` in this process. Never throws. */
export function punchHole(
  fd: number,
  offset: number,
  length: number,
  timeoutMs: number,
): Promise<PunchResult> {
  const args = [
    '--punch-hole',
    '--keep-size',
    '--offset',
    String(offset),
    '--length',
    String(length),
    `/proc/${process.pid}/fd/${fd}`,
  ];
  return new Promise((resolve) => {
    execFile('fallocate', args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, _stdout, stderr) => {
      if (!err) resolve({ ok: true });
      else resolve({ ok: false, reason: `${err.message.split('\n')[0]} ${String(stderr).trim()}`.trim() });
    });
  });
}
