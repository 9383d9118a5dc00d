/**
 * The S3 side of `ferry serve`: `--s3 URL --bucket NAME` opens an S3FlatFs (credentials from
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or `--s3-credentials FILE`), creating the bucket when
 * missing, and `--gc` aborts the bucket's multipart uploads older than the part TTL.
 *
 * Why apart from serve.ts: the flags, the credentials file and the clean-up are S3's alone.
 */
import { readFileSync } from 'node:fs';
import { S3FlatFs, type S3Credentials } from '../src/index.js';
import { UsageError } from './util.js';

export interface ServeS3Args {
  s3?: string;
  bucket?: string;
  's3-credentials'?: string;
  's3-spool'?: string;
  gc: boolean;
}

export const S3_OPTIONS = {
  s3: {
    type: 'string',
    requiresArg: true,
    describe: 'serve an S3 bucket at this gateway, e.g. http://127.0.0.1:7480 (with --bucket)',
  },
  bucket: {
    type: 'string',
    requiresArg: true,
    describe: 'the bucket to serve with --s3 (created when missing)',
  },
  's3-credentials': {
    type: 'string',
    requiresArg: true,
    describe: 'file of AWS_ACCESS_KEY_ID=... and AWS_SECRET_ACCESS_KEY=... lines (default: those variables)',
  },
  's3-spool': {
    type: 'string',
    requiresArg: true,
    describe: 'folder for the changed parts of open files with --s3 (default: the temp folder)',
  },
  gc: {
    type: 'boolean',
    default: false,
    describe:
      'with --s3: first abort the multipart uploads older than --part-ttl (left by servers that died)',
  },
} as const;

/** Checks the S3 flags together; true when S3 is asked for. */
export function checkS3Args(args: ServeS3Args): boolean {
  if (args.s3 === undefined) {
    for (const flag of ['bucket', 's3-credentials', 's3-spool'] as const) {
      if (args[flag] !== undefined) throw new UsageError(`--${flag} needs --s3 URL`);
    }
    if (args.gc) throw new UsageError('--gc needs --s3 URL (it cleans a bucket)');
    return false;
  }
  if (args.bucket === undefined) throw new UsageError('--s3 needs --bucket NAME');
  return true;
}

/** KEY=VALUE lines (what scripts/ceph-dev.sh start prints); other lines are ignored. */
function credentialsFrom(file: string | undefined): S3Credentials {
  let vars: Record<string, string | undefined> = process.env;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`--s3-credentials ${file}: ${(err as Error).message}`);
    }
    vars = {};
    for (const line of text.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) vars[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
    }
  }
  const accessKeyId = vars['AWS_ACCESS_KEY_ID'] ?? '';
  const secretAccessKey = vars['AWS_SECRET_ACCESS_KEY'] ?? '';
  if (accessKeyId === '' || secretAccessKey === '') {
    const where = file === undefined ? 'the environment' : file;
    throw new UsageError(
      `no S3 credentials in ${where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass --s3-credentials FILE with those two lines`,
    );
  }
  return { accessKeyId, secretAccessKey };
}

/** Opens the bucket as a FlatFs; `log` gets one line per thing done on the user's behalf. */
export async function openS3Fs(
  args: ServeS3Args,
  opts: { quotaBytes?: number; readOnly: boolean; partTtlMs: number; log: (line: string) => void },
): Promise<S3FlatFs> {
  const fs = await S3FlatFs.open({
    endpoint: args.s3!,
    bucket: args.bucket!,
    credentials: credentialsFrom(args['s3-credentials']),
    createBucket: !opts.readOnly,
    readOnly: opts.readOnly,
    ...(opts.quotaBytes !== undefined ? { quotaBytes: opts.quotaBytes } : {}),
    ...(args['s3-spool'] !== undefined ? { spoolDir: args['s3-spool'] } : {}),
  });
  if (fs.bucketCreated) opts.log(`created bucket ${args.bucket} at ${args.s3}`);
  if (args.gc) {
    try {
      const aborted = await fs.abortStaleUploads(opts.partTtlMs);
      opts.log(`--gc: aborted ${aborted} unfinished multipart upload(s) older than the part TTL`);
    } catch (err) {
      await fs.close().catch(() => undefined);
      throw err;
    }
  }
  return fs;
}
