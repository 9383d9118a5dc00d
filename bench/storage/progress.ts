/**
 * The live progress line of a storage benchmark on a terminal: job, target, elapsed seconds and the
 * current rate (over the last tick), redrawn in place on stderr. Off a terminal nothing is drawn
 * (logs and CI get one summary line per run instead, from the caller).
 */
import { performance } from 'node:perf_hooks';
import { formatRate } from '../lib/table.js';
import type { LiveCounters } from './engine.js';

const TICK_MS = 250;

export interface ProgressSink {
  /** True when stderr is a terminal: draw the live line. */
  tty: boolean;
  write(text: string): void;
}

export interface ProgressLine {
  stop(): void;
}

export function startProgress(sink: ProgressSink, label: string, live: LiveCounters): ProgressLine {
  if (!sink.tty) return { stop: () => undefined };
  const startMs = performance.now();
  let lastMs = startMs;
  let lastBytes = live.bytes;
  let lastOps = live.ops;
  const timer = setInterval(() => {
    const now = performance.now();
    const dt = (now - lastMs) / 1000;
    // fio reports only at its end: show just the elapsed time while it runs.
    const rate =
      live.bytes === 0 && live.ops === 0
        ? ''
        : live.bytes > 0
          ? formatRate((live.bytes - lastBytes) / dt)
          : `${Math.round((live.ops - lastOps) / dt).toLocaleString('en-US')} ops/s`;
    lastMs = now;
    lastBytes = live.bytes;
    lastOps = live.ops;
    sink.write(`\r\x1b[K${label}  ${((now - startMs) / 1000).toFixed(1)} s  ${rate}`);
  }, TICK_MS);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
      sink.write('\r\x1b[K');
    },
  };
}
