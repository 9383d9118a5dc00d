/**
 * Settings of a FUSE mount, one schema (src/core/config.ts), so the CLI, the library and the tests
 * read and validate them the same way.
 *
 * Why these: attribute and entry caching trade freshness against round trips (1 s like NFS's
 * minimum); the operation timeouts are what keep a lost server from hanging programs that use the
 * mount; the I/O size is the largest libfuse 2 accepts (128 KiB), which is what makes writes fast.
 */
import { readConfig, type ConfigOf } from '../core/index.js';

export const FUSE_MOUNT_SCHEMA = {
  attrTimeoutMs: {
    kind: 'ms',
    default: 1000,
    min: 0,
    max: 3_600_000,
    doc: 'how long the kernel caches file attributes (size, times)',
  },
  entryTimeoutMs: {
    kind: 'ms',
    default: 1000,
    min: 0,
    max: 3_600_000,
    doc: 'how long the kernel caches name lookups',
  },
  opTimeoutMs: {
    kind: 'ms',
    default: 10_000,
    min: 50,
    max: 600_000,
    doc: 'a backend call (read, write, stat, ...) that takes longer fails with EIO',
  },
  syncTimeoutMs: {
    kind: 'ms',
    default: 120_000,
    min: 50,
    max: 3_600_000,
    doc: 'the same bound for fsync and close, which may flush much data to disk',
  },
  maxIoBytes: {
    kind: 'bytes',
    default: 131_072,
    min: 4096,
    max: 131_072,
    doc: 'largest read or write operation the kernel sends (max_read, max_write; libfuse 2 caps it at 128 KiB)',
  },
  readaheadBytes: {
    kind: 'bytes',
    default: 131_072,
    min: 0,
    max: 131_072,
    doc: 'kernel readahead for sequential reads (max_readahead)',
  },
  dataReadAheadBytes: {
    kind: 'bytes',
    default: 0,
    min: 0,
    max: 16_777_216,
    doc: 'bytes this mount fetches ahead of a sequential reader, in one backend call per open file (0: off; `ferry mount ferry://` sets 4 MiB unless --cache says otherwise)',
  },
  writeBackBytes: {
    kind: 'bytes',
    default: 0,
    min: 0,
    max: 268_435_456,
    doc: 'bytes of writes answered before the backend answered them, over the whole mount (0: off, every write waits for the backend; `ferry mount ferry://` sets 16 MiB unless --cache says otherwise)',
  },
  maxOpenFiles: {
    kind: 'int',
    default: 65_536,
    min: 1,
    max: 1_048_576,
    doc: 'files open through the mount at once; more fail with ENFILE',
  },
  maxDirEntries: {
    kind: 'int',
    default: 1_000_000,
    min: 1,
    max: 100_000_000,
    doc: 'largest listing readdir returns; a larger folder fails with EIO',
  },
  readOnly: { kind: 'bool', default: false, doc: 'mount read-only (writes fail with EROFS)' },
  allowOther: { kind: 'bool', default: false, doc: 'let other users use the mount (allow_other)' },
  debug: { kind: 'bool', default: false, doc: 'print every FUSE request (libfuse debug)' },
  fsName: { kind: 'string', default: 'ferry', doc: 'source name shown in /proc/mounts' },
} as const;

export type FuseMountConfig = ConfigOf<typeof FUSE_MOUNT_SCHEMA>;

/** Validates mount settings (object or `key=value,...`); INVALID_CONFIG names the fix. */
export function readFuseMountConfig(
  input: Partial<Record<keyof typeof FUSE_MOUNT_SCHEMA, unknown>> | string | undefined,
): FuseMountConfig {
  return readConfig(FUSE_MOUNT_SCHEMA, input, 'mount');
}
