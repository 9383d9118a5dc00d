/**
 * CPU seconds and peak resident memory of the calling process, read the same way on every side of a
 * benchmark so the figures compare: `process.cpuUsage()` (user + system) and
 * `process.resourceUsage().maxRSS` (the kernel's high-water mark, in KiB).
 */

export interface ResourceUsage {
  cpu_user_s: number;
  cpu_sys_s: number;
  peak_rss_bytes: number;
}

export interface ResourceMeter {
  /** Usage since the meter was started (CPU) and the process's peak RSS so far. */
  read(): ResourceUsage;
}

export function startResourceMeter(): ResourceMeter {
  const start = process.cpuUsage();
  return {
    read(): ResourceUsage {
      const d = process.cpuUsage(start);
      return {
        cpu_user_s: d.user / 1e6,
        cpu_sys_s: d.system / 1e6,
        peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
      };
    },
  };
}
