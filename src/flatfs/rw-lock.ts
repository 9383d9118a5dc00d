/**
 * A shared/exclusive lock for async work, granted first come, first served.
 *
 * Why: the directory backend lets reads and writes of one file run in parallel (offset writes of a
 * transfer arrive many at a time), but a truncate must not interleave with them, or a late write
 * would re-extend a file the caller just shortened and the quota would count the wrong size. The
 * same lock used only exclusively serialises namespace changes (create, rename, unlink).
 */

interface Waiter {
  readonly exclusive: boolean;
  readonly grant: () => void;
}

export class RwLock {
  /** Holders: a count of shared holders, or -1 while held exclusively. */
  private holders = 0;
  private readonly waiting: Waiter[] = [];

  /** Runs `fn` alongside other shared holders, never alongside an exclusive one. */
  shared<R>(fn: () => Promise<R>): Promise<R> {
    return this.run(false, fn);
  }

  /** Runs `fn` alone. */
  exclusive<R>(fn: () => Promise<R>): Promise<R> {
    return this.run(true, fn);
  }

  private async run<R>(exclusive: boolean, fn: () => Promise<R>): Promise<R> {
    await this.acquire(exclusive);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private acquire(exclusive: boolean): Promise<void> {
    if (this.waiting.length === 0 && this.canTake(exclusive)) {
      this.take(exclusive);
      return Promise.resolve();
    }
    return new Promise((grant) => this.waiting.push({ exclusive, grant }));
  }

  private canTake(exclusive: boolean): boolean {
    return exclusive ? this.holders === 0 : this.holders >= 0;
  }

  private take(exclusive: boolean): void {
    this.holders = exclusive ? -1 : this.holders + 1;
  }

  private release(): void {
    this.holders = this.holders === -1 ? 0 : this.holders - 1;
    for (
      let next = this.waiting[0];
      next !== undefined && this.canTake(next.exclusive);
      next = this.waiting[0]
    ) {
      this.waiting.shift();
      this.take(next.exclusive);
      next.grant();
    }
  }
}
