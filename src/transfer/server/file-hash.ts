/**
 * FILE_HASH on the server: the whole-file xxhash64 of a committed file, read through once.
 *
 * Why a bounded set of buffers: `sync --checksum` asks for the hash of every file of a tree, many
 * at once; each request reads its file in FILE_HASH_CHUNK_BYTES pieces into one of
 * FILE_HASH_BUFFERS buffers shared by the whole process, and waits for one when all are in use, so
 * a flood of hash requests costs a fixed amount of memory and a fixed number of concurrent reads.
 */
import { createXxh64 } from '../../core/checksum.js';
import { FerryError } from '../../core/errors.js';
import type { FlatFs } from '../../flatfs/types.js';

/** Bytes read per step of a whole-file hash. */
export const FILE_HASH_CHUNK_BYTES = 1024 * 1024;
/** Whole-file hashes computed at once in one process (each holds one chunk buffer). */
export const FILE_HASH_BUFFERS = 4;

const free: Buffer[] = [];
let made = 0;
const waiting: Array<(b: Buffer) => void> = [];

async function takeBuffer(): Promise<Buffer> {
  const b = free.pop();
  if (b) return b;
  if (made < FILE_HASH_BUFFERS) {
    made++;
    return Buffer.allocUnsafe(FILE_HASH_CHUNK_BYTES);
  }
  return new Promise((resolve) => waiting.push(resolve));
}

function giveBack(b: Buffer): void {
  const next = waiting.shift();
  if (next) next(b);
  else free.push(b);
}

/** The size, modification time and whole-file xxhash64 of `name`. */
export async function hashFile(
  fs: FlatFs,
  name: string,
): Promise<{ sizeBytes: number; mtimeMs: number; fileHash: bigint }> {
  const handle = await fs.open(name);
  const buf = await takeBuffer();
  try {
    const st = await fs.fstat(handle);
    const hasher = createXxh64();
    for (let offset = 0; offset < st.sizeBytes;) {
      const want = Math.min(buf.length, st.sizeBytes - offset);
      const n = await fs.readInto(handle, offset, buf.subarray(0, want));
      if (n !== want) throw new FerryError('IO_ERROR', `${name} changed size while being hashed: ask again`);
      hasher.update(buf.subarray(0, n));
      offset += n;
    }
    return { sizeBytes: st.sizeBytes, mtimeMs: st.mtimeMs, fileHash: hasher.digest() };
  } finally {
    giveBack(buf);
    await fs.closeFile(handle).catch(() => undefined);
  }
}
