/**
 * Progress bars for long work (copies, the demo), drawn on stderr only when it is a TTY so that
 * pipes and --json output stay clean. cli-progress does the redrawing, rate and ETA.
 */
import cliProgress from 'cli-progress';
import type { CopyOptions } from '../src/index.js';

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** A progress bar on stderr when it is a TTY; null otherwise. */
export function progressBar(
  label: string,
  enabled: boolean,
): { update: CopyOptions['onProgress']; stop: () => void } | null {
  if (!enabled) return null;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {done} / {all} | {rate}/s | ETA {eta_formatted}`,
      hideCursor: true,
      etaBuffer: 50,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  const startMs = performance.now();
  let started = false;
  return {
    update: (p) => {
      const total = p.bytesTotal ?? p.bytesDone;
      const secs = Math.max(0.001, (performance.now() - startMs) / 1000);
      const payload = {
        done: formatBytes(p.bytesDone),
        all: p.bytesTotal === null ? '?' : formatBytes(total),
        rate: formatBytes(p.bytesDone / secs),
      };
      if (!started) {
        bar.start(Math.max(1, total), p.bytesDone, payload);
        started = true;
      } else {
        bar.setTotal(Math.max(1, total));
        bar.update(p.bytesDone, payload);
      }
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

/** The progress of a tree copy as its bar shows it. */
export interface TreeProgress {
  /** Bytes of the tree done (finished files, and the part of files in flight confirmed so far). */
  add(bytes: number): void;
  /** One more file finished (copied or found already there). */
  fileDone(): void;
  stop(): void;
}

/**
 * One progress bar for a whole tree copy on stderr (files and bytes, rate, ETA), or a counter that
 * draws nothing when `enabled` is false.
 */
export function treeProgressBar(totalFiles: number, totalBytes: number, enabled: boolean): TreeProgress {
  if (!enabled) return { add: () => undefined, fileDone: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `[{bar}] {percentage}% | {files}/${totalFiles} files | {done} / ${formatBytes(totalBytes)} | {rate}/s | ETA {eta_formatted}`,
      hideCursor: true,
      etaBuffer: 50,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  const startMs = performance.now();
  let bytes = 0;
  let files = 0;
  const payload = () => ({
    files,
    done: formatBytes(bytes),
    rate: formatBytes(bytes / Math.max(0.001, (performance.now() - startMs) / 1000)),
  });
  bar.start(Math.max(1, totalBytes), 0, payload());
  return {
    add: (n) => {
      bytes += n;
      bar.update(bytes, payload());
    },
    fileDone: () => {
      files++;
      bar.update(bytes, payload());
    },
    stop: () => bar.stop(),
  };
}
