/**
 * The JSON Schema (draft 2020-12) of `ferry.bench.storage/1` reports, as data. bench/storage/schema.json
 * is the same document for tools outside ferry (a unit test keeps the two equal); validate.ts checks
 * reports against it, and `ferry bench compare` refuses files that do not match.
 */

const num = { type: 'number', minimum: 0 } as const;
const int = { type: 'integer', minimum: 0 } as const;
const str = { type: 'string' } as const;
const status = { enum: ['ok', 'skipped', 'failed'] } as const;
const target = { enum: ['local', 'remote', 'fio'] } as const;

const latency = {
  type: 'object',
  required: ['count', 'min_ns', 'mean_ns', 'max_ns', 'percentile'],
  additionalProperties: false,
  properties: {
    count: int,
    min_ns: num,
    mean_ns: num,
    max_ns: num,
    percentile: {
      type: 'object',
      required: ['50.000000', '90.000000', '99.000000', '99.900000'],
      additionalProperties: false,
      properties: { '50.000000': num, '90.000000': num, '99.000000': num, '99.900000': num },
    },
  },
} as const;

const direction = {
  type: 'object',
  required: ['io_bytes', 'bw_bytes', 'iops', 'total_ios', 'runtime', 'clat_ns'],
  additionalProperties: false,
  properties: {
    io_bytes: num,
    bw_bytes: num,
    iops: num,
    total_ios: int,
    runtime: num,
    clat_ns: { $ref: '#/$defs/latency' },
  },
} as const;

const jobResult = {
  type: 'object',
  required: [
    'job',
    'target',
    'status',
    'bs',
    'iodepth',
    'numjobs',
    'bw_bytes',
    'iops',
    'io_bytes',
    'runtime',
    'clat_ns',
    'read',
    'write',
    'cpu_user_s',
    'cpu_sys_s',
    'peak_rss_bytes',
  ],
  additionalProperties: false,
  properties: {
    job: str,
    target,
    status,
    reason: str,
    bs: int,
    iodepth: { type: 'integer', minimum: 1 },
    numjobs: { type: 'integer', minimum: 1 },
    bw_bytes: num,
    iops: num,
    io_bytes: num,
    runtime: num,
    clat_ns: { $ref: '#/$defs/latency' },
    read: { $ref: '#/$defs/direction' },
    write: { $ref: '#/$defs/direction' },
    files_per_s: num,
    cpu_user_s: num,
    cpu_sys_s: num,
    peak_rss_bytes: { type: ['number', 'null'], minimum: 0 },
  },
} as const;

const ratioValue = { type: ['number', 'null'], minimum: 0 } as const;

export const STORAGE_JSON_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'ferry.bench.storage/1',
  title: 'ferry bench blockdev|fs report',
  type: 'object',
  required: [
    'schema',
    'kind',
    'started_at',
    'finished_at',
    'host',
    'options',
    'unavailable',
    'interrupted',
    'results',
    'ratios',
    'curves',
    'copies',
  ],
  additionalProperties: false,
  properties: {
    schema: { const: 'ferry.bench.storage/1' },
    kind: { enum: ['blockdev', 'fs'] },
    started_at: str,
    finished_at: str,
    host: {
      type: 'object',
      required: ['node', 'platform', 'cpus', 'cpu_model'],
      additionalProperties: false,
      properties: { node: str, platform: str, cpus: int, cpu_model: str },
    },
    options: {
      type: 'object',
      required: ['backend', 'remote', 'size_bytes', 'runtime_ms', 'iodepth', 'numjobs', 'jobs', 'fio_engine'],
      additionalProperties: false,
      properties: {
        backend: str,
        remote: { type: ['string', 'null'] },
        size_bytes: int,
        runtime_ms: num,
        iodepth: { type: 'integer', minimum: 1 },
        numjobs: { type: 'integer', minimum: 1 },
        jobs: { type: 'array', items: str },
        fio_engine: str,
      },
    },
    unavailable: {
      type: 'object',
      additionalProperties: false,
      properties: { local: str, remote: str, fio: str },
    },
    interrupted: { type: 'boolean' },
    results: { type: 'array', items: { $ref: '#/$defs/jobResult' } },
    ratios: {
      type: 'array',
      items: {
        type: 'object',
        required: ['job', 'remote_to_local', 'local_to_fio', 'remote_to_fio'],
        additionalProperties: false,
        properties: {
          job: str,
          remote_to_local: ratioValue,
          local_to_fio: ratioValue,
          remote_to_fio: ratioValue,
        },
      },
    },
    curves: {
      type: 'array',
      items: {
        type: 'object',
        required: ['target', 'job', 'points'],
        additionalProperties: false,
        properties: {
          target,
          job: str,
          points: {
            type: 'array',
            items: {
              type: 'object',
              required: ['iodepth', 'iops', 'bw_bytes', 'p50_ns', 'p99_ns'],
              additionalProperties: false,
              properties: {
                iodepth: { type: 'integer', minimum: 1 },
                iops: num,
                bw_bytes: num,
                p50_ns: num,
                p99_ns: num,
              },
            },
          },
        },
      },
    },
    copies: {
      type: 'array',
      items: {
        type: 'object',
        required: [
          'mode',
          'impair',
          'status',
          'bytes',
          'seconds',
          'bw_bytes',
          'retransmits',
          'cpu_user_s',
          'cpu_sys_s',
          'peak_rss_bytes',
        ],
        additionalProperties: false,
        properties: {
          mode: { enum: ['local', 'offset', 'append'] },
          impair: { type: ['string', 'null'] },
          status,
          reason: str,
          bytes: int,
          seconds: num,
          bw_bytes: num,
          retransmits: int,
          cpu_user_s: num,
          cpu_sys_s: num,
          peak_rss_bytes: num,
        },
      },
    },
  },
  $defs: { latency, direction, jobResult },
} as const;
