/**
 * ferry's public API. Everything a program (and ferry's own CLI and benchmarks) may use is exported
 * here by name; nothing else is public.
 */
export {
  FerryError,
  ferryError,
  isFerryError,
  ERROR_CODES,
  type ErrorCode,
  LIMITS,
  KiB,
  MiB,
  GiB,
  TiB,
  readConfig,
  parseBytes,
  parseDurationMs,
  parseKeyValues,
  describeSchema,
  type Schema,
  type ConfigOf,
  SystemClock,
  ManualClock,
  systemClock,
  type Clock,
  BufferPool,
  initChecksums,
  xxh32,
  xxh64,
  createXxh64,
} from './core/index.js';
export {
  MemoryBlockDevice,
  MEMORY_CHUNK_BYTES,
  FileBlockDevice,
  openBlockDevice,
  parseBlockDeviceSpec,
  type BlockDevice,
  type BlockExtent,
  type BlockDeviceSpec,
  type MemoryBlockDeviceOptions,
  type FileBlockDeviceOptions,
} from './blockdev/index.js';
