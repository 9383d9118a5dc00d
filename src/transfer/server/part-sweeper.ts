/**
 * Expiry of abandoned uploads: an upload left unfinished (its client gone, or still connected but
 * silent) longer than the part TTL (`ferry serve --part-ttl`, default DEFAULT_PART_TTL_MS) is
 * aborted, and its part file and journal removed, so they stop holding quota.
 *
 * Why a sweep over the storage and not only over the open transfers: uploads outlive their sessions
 * (suspended, resumable) and the server's restarts; what is left of them is only their hidden files.
 * So the sweep reads the hidden names, groups each upload's part file, journal and journal temp, and
 * judges an upload not open on this server by the newest modification time of its files (a flush or
 * a write touches them). Open uploads are judged by their last request (TransferTable). It runs at
 * start and every PART_SWEEP_INTERVAL_MS (or half the TTL, when that is shorter).
 *
 * The same scan counts what unfinished uploads hold (files and bytes), for STATFS and the stats.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import { isFerryError } from '../../core/errors.js';
import { LIMITS, TRANSFER_LIMITS } from '../../core/limits.js';
import { HIDDEN_PREFIX, type FileStat, type FlatFs } from '../../flatfs/types.js';
import { uploadFileOf } from '../names.js';

export interface PartSweeperOptions {
  fs: FlatFs;
  /** Idle time after which an unfinished upload is removed. */
  ttlMs: number;
  clock: Clock;
  /** Wall clock to compare file times with, ms since the epoch (default Date.now). */
  wallClockMs?: () => number;
  /** The keys (uploadFileOf) of the uploads open on this server: judged by expireOpen, not here. */
  openKeys: () => ReadonlySet<string>;
  /** Aborts the open uploads idle past `ttlMs` (the TransferTable's part of a sweep). */
  expireOpen: (ttlMs: number) => Promise<number>;
  /** Called with each upload key removed (to forget its owner). */
  onRemoved?: (key: string) => void;
  log: (line: string) => void;
}

/** What unfinished uploads hold on the storage. */
export interface PartUsage {
  /** Unfinished uploads (part files). */
  uploads: number;
  /** Bytes of their part files (what they count against the quota). */
  bytes: number;
}

interface UploadFiles {
  files: FileStat[];
  partBytes: number;
  hasPart: boolean;
  newestMs: number;
}

export class PartSweeper {
  private timer: TimerHandle | null = null;
  /** The last sweep asked for (sweeps run one after another). */
  private running: Promise<number> = Promise.resolve(0);
  private closed = false;
  private readonly wallClockMs: () => number;
  readonly intervalMs: number;
  /** Uploads removed by sweeps so far. */
  expired = 0;
  /** The last usage counted, and when (clock ms): STATFS answers from it for PART_USAGE_CACHE_MS. */
  private cached: { usage: PartUsage; atMs: number } | null = null;

  constructor(private readonly opts: PartSweeperOptions) {
    this.wallClockMs = opts.wallClockMs ?? Date.now;
    this.intervalMs = Math.max(
      TRANSFER_LIMITS.PART_SWEEP_MIN_INTERVAL_MS,
      Math.min(TRANSFER_LIMITS.PART_SWEEP_INTERVAL_MS, Math.floor(opts.ttlMs / 2)),
    );
  }

  /** Sweeps now (at start) and then every `intervalMs`. */
  start(): void {
    void this.sweep();
    this.arm();
  }

  private arm(): void {
    if (this.closed) return;
    this.timer = this.opts.clock.setTimer(this.intervalMs, () => {
      this.timer = null;
      void this.sweep().finally(() => this.arm());
    });
  }

  /** A sweep that starts after the one under way: resolves to the uploads removed. Never throws. */
  sweep(): Promise<number> {
    const next = this.running.then(() =>
      this.sweepOnce().catch((err: unknown) => {
        this.opts.log(`part sweep failed: ${err instanceof Error ? err.message : String(err)}`);
        return 0;
      }),
    );
    this.running = next;
    return next;
  }

  private async sweepOnce(): Promise<number> {
    if (this.closed) return 0;
    let removed = await this.opts.expireOpen(this.opts.ttlMs);
    const now = this.wallClockMs();
    const uploads = await this.scan();
    const open = this.opts.openKeys();
    for (const [key, up] of uploads) {
      if (this.closed) break;
      if (open.has(key) || now - up.newestMs <= this.opts.ttlMs) continue;
      // Asked again right before removing: an upload resumed since the scan is left alone.
      if (this.opts.openKeys().has(key)) continue;
      for (const f of up.files) await this.remove(f.name);
      this.opts.onRemoved?.(key);
      this.opts.log(
        `${new Date(now).toISOString()} expired an unfinished upload (${up.files.map((f) => f.name).join(', ')}; idle ${Math.round((now - up.newestMs) / 1000)}s)`,
      );
      removed++;
    }
    this.expired += removed;
    if (removed > 0) this.cached = null;
    return removed;
  }

  private async remove(name: string): Promise<void> {
    try {
      await this.opts.fs.unlink(name);
    } catch (err) {
      if (!isFerryError(err, 'NOT_FOUND')) throw err;
    }
  }

  /**
   * What the unfinished uploads hold, counted at most PART_USAGE_CACHE_MS ago (a mount's `df` asks
   * often; each count lists the hidden names).
   */
  async recentUsage(): Promise<PartUsage> {
    const c = this.cached;
    if (c && this.opts.clock.nowMs() - c.atMs < TRANSFER_LIMITS.PART_USAGE_CACHE_MS) return c.usage;
    return this.usage();
  }

  /** What the unfinished uploads on the storage hold (open ones included), counted now. */
  async usage(): Promise<PartUsage> {
    let uploads = 0;
    let bytes = 0;
    for (const up of (await this.scan()).values()) {
      if (!up.hasPart) continue;
      uploads++;
      bytes += up.partBytes;
    }
    const usage = { uploads, bytes };
    this.cached = { usage, atMs: this.opts.clock.nowMs() };
    return usage;
  }

  /** The uploads' hidden files, grouped by upload, page by page. */
  private async scan(): Promise<Map<string, UploadFiles>> {
    const uploads = new Map<string, UploadFiles>();
    let cursor: string | undefined;
    do {
      const page = await this.opts.fs.list({
        prefix: HIDDEN_PREFIX,
        includeHidden: true,
        limit: LIMITS.MAX_LIST_PAGE,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      for (const f of page.entries) {
        const of = uploadFileOf(f.name);
        if (!of) continue;
        let up = uploads.get(of.key);
        if (!up) {
          up = { files: [], partBytes: 0, hasPart: false, newestMs: 0 };
          uploads.set(of.key, up);
        }
        up.files.push(f);
        up.newestMs = Math.max(up.newestMs, f.mtimeMs);
        if (of.role === 'part') {
          up.hasPart = true;
          up.partBytes = f.sizeBytes;
        }
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined && !this.closed);
    return uploads;
  }

  /** Stops sweeping; waits for a sweep under way. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) this.opts.clock.clearTimer(this.timer);
    this.timer = null;
    await this.running;
  }
}
