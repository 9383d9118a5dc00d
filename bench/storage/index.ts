/** `ferry bench blockdev|fs`: the storage benchmarks' public face for the CLI. */
export { runStorageBench, type StorageBenchIo } from './run.js';
export {
  parseStorageOptions,
  STORAGE_BENCH_LIMITS,
  type StorageBenchOptions,
  type RawStorageOptions,
} from './options.js';
export { renderStorageReport } from './render.js';
export { STORAGE_REPORT_SCHEMA, type StorageBenchReport, type JobResult } from './report-types.js';
export { validateStorageReport, STORAGE_JSON_SCHEMA } from './validate.js';
