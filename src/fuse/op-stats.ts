/**
 * Counters of what the FUSE adapter saw: how many read and write operations, and how large.
 *
 * Why: the size of the operations the kernel sends decides throughput (4 KiB writes are four times
 * slower than 128 KiB ones), and it is invisible from outside the serving process. `ferry mount`
 * prints these on SIGUSR2 and at exit; tests use them to check big writes are in effect.
 */
export class OpStats {
  readOps = 0;
  readBytes = 0;
  readMaxBytes = 0;
  writeOps = 0;
  writeBytes = 0;
  writeMaxBytes = 0;
  /** Operations answered with an error (any errno). */
  errors = 0;
  /** Backend calls that passed their deadline and were answered with EIO. */
  timeouts = 0;

  recordRead(bytes: number): void {
    this.readOps++;
    this.readBytes += bytes;
    if (bytes > this.readMaxBytes) this.readMaxBytes = bytes;
  }

  recordWrite(bytes: number): void {
    this.writeOps++;
    this.writeBytes += bytes;
    if (bytes > this.writeMaxBytes) this.writeMaxBytes = bytes;
  }

  toJSON(): Record<string, number> {
    return {
      readOps: this.readOps,
      readBytes: this.readBytes,
      readMaxBytes: this.readMaxBytes,
      writeOps: this.writeOps,
      writeBytes: this.writeBytes,
      writeMaxBytes: this.writeMaxBytes,
      errors: this.errors,
      timeouts: this.timeouts,
    };
  }
}
