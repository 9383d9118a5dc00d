/**
 * What the kernel says is mounted, read from /proc/self/mountinfo.
 *
 * Why not stat the mountpoint: on a mount whose server is hung, stat blocks (state D), and in the
 * process that serves the mount it deadlocks. The mount table answers without touching the mount,
 * and it carries the device number that names the FUSE connection in /sys/fs/fuse/connections.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export interface MountEntry {
  mountpoint: string;
  /** Filesystem type, e.g. `fuse.ferry`. */
  fsType: string;
  /** Source column (the fsname option for FUSE). */
  source: string;
  /** Device minor number = the FUSE connection id under /sys/fs/fuse/connections. */
  deviceMinor: number;
  readOnly: boolean;
}

const MOUNTINFO = '/proc/self/mountinfo';

/** `\040` style escapes of mountinfo back to characters. */
function unescapeField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses mountinfo text (exported for tests). */
export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const dev = left[2];
    const mnt = left[4];
    const opts = left[5];
    const fsType = right[0];
    const source = right[1];
    if (dev === undefined || mnt === undefined || opts === undefined || fsType === undefined) continue;
    const minor = Number(dev.split(':')[1]);
    out.push({
      mountpoint: unescapeField(mnt),
      fsType,
      source: unescapeField(source ?? ''),
      deviceMinor: Number.isInteger(minor) ? minor : -1,
      readOnly: opts.split(',').includes('ro'),
    });
  }
  return out;
}

/** The FUSE mount at `mountpoint` (resolved to an absolute path, without following links), if any. */
export async function findFuseMount(mountpoint: string): Promise<MountEntry | null> {
  const abs = path.resolve(mountpoint);
  const entries = parseMountInfo(await readFile(MOUNTINFO, 'utf8'));
  let found: MountEntry | null = null;
  // The last entry wins: a later mount on the same path hides the earlier ones.
  for (const e of entries) if (e.mountpoint === abs) found = e;
  if (found === null) return null;
  return found.fsType === 'fuse' || found.fsType.startsWith('fuse.') ? found : null;
}

/** True when anything at all is mounted at `mountpoint`. */
export async function isMountpoint(mountpoint: string): Promise<boolean> {
  const abs = path.resolve(mountpoint);
  const entries = parseMountInfo(await readFile(MOUNTINFO, 'utf8'));
  return entries.some((e) => e.mountpoint === abs);
}
