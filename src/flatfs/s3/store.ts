/**
 * S3Store: the few S3 calls the S3 flat filesystem makes, on one bucket, with S3's failures turned
 * into ferry's error codes.
 *
 * Why a seam: the backend reasons in slots, inodes and names; this file alone knows the SDK's
 * command objects, its error shapes and how a key is written in a copy source. Credentials, the
 * endpoint and path-style addressing (what Ceph's gateway and most self-hosted stores need) are
 * set once here. The SDK is loaded on the first connect, not when ferry starts: most commands never
 * talk to S3, and loading it costs about 0.2 s.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { FerryError } from '../../core/errors.js';
import { S3_LIMITS } from './limits.js';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface S3StoreOptions {
  /** The gateway, `http://127.0.0.1:7480` (path-style: the bucket goes in the path). */
  endpoint: string;
  bucket: string;
  credentials: S3Credentials;
  /** Signing region (default us-east-1; Ceph accepts any). */
  region?: string;
}

export interface ObjectHead {
  sizeBytes: number;
  lastModifiedMs: number;
  meta: Record<string, string>;
}

export interface ListedObject {
  key: string;
  sizeBytes: number;
  lastModifiedMs: number;
}

export interface ObjectPage {
  objects: ListedObject[];
  /** CommonPrefixes (with a delimiter). */
  prefixes: string[];
  /** Pass back to continue; null on the last page. */
  continuation: string | null;
}

export interface PendingUpload {
  key: string;
  uploadId: string;
  initiatedMs: number;
}

export interface UploadedPart {
  partNumber: number;
  etag: string;
}

/** A bucket name as S3 allows it: 3..63 of a-z 0-9 . -, starting and ending with a letter or digit. */
export function checkBucketName(bucket: unknown): asserts bucket is string {
  if (typeof bucket === 'string' && /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) return;
  throw new FerryError(
    'INVALID_ARGUMENT',
    `bucket name ${JSON.stringify(bucket)} is not a valid S3 bucket name: use 3 to 63 lower-case letters, digits, '.' or '-'`,
  );
}

function checkEndpoint(endpoint: unknown): asserts endpoint is string {
  const url = URL.canParse(String(endpoint)) ? new URL(String(endpoint)) : null;
  if (url !== null && (url.protocol === 'http:' || url.protocol === 'https:')) return;
  throw new FerryError(
    'BAD_URL',
    `S3 endpoint ${JSON.stringify(endpoint)} is not an http:// or https:// URL: write it as http://HOST:PORT`,
  );
}

type Sdk = typeof import('@aws-sdk/client-s3');

export class S3Store {
  readonly bucket: string;
  readonly endpoint: string;
  private readonly client: S3Client;

  /** Checks the options and loads the SDK. */
  static async connect(opts: S3StoreOptions): Promise<S3Store> {
    return new S3Store(opts, await import('@aws-sdk/client-s3'));
  }

  private constructor(
    opts: S3StoreOptions,
    private readonly sdk: Sdk,
  ) {
    checkEndpoint(opts.endpoint);
    checkBucketName(opts.bucket);
    const { accessKeyId, secretAccessKey } = opts.credentials ?? {};
    if (
      typeof accessKeyId !== 'string' ||
      accessKeyId === '' ||
      typeof secretAccessKey !== 'string' ||
      secretAccessKey === ''
    ) {
      throw new FerryError(
        'INVALID_ARGUMENT',
        'S3 credentials are missing: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass --s3-credentials FILE',
      );
    }
    this.bucket = opts.bucket;
    this.endpoint = opts.endpoint;
    this.client = new sdk.S3Client({
      endpoint: opts.endpoint,
      region: opts.region ?? 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      // Checksums only where S3 requires them: ferry checks whole-file hashes itself.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        requestTimeout: S3_LIMITS.REQUEST_TIMEOUT_MS,
        httpAgent: { keepAlive: true, maxSockets: S3_LIMITS.MAX_SOCKETS },
        httpsAgent: { keepAlive: true, maxSockets: S3_LIMITS.MAX_SOCKETS },
      },
    });
  }

  /** Creates the bucket when missing; true when it was created. */
  async ensureBucket(): Promise<boolean> {
    try {
      await this.client.send(new this.sdk.HeadBucketCommand({ Bucket: this.bucket }));
      return false;
    } catch (err) {
      if (statusOf(err) !== 404) throw s3Error(err, `check bucket ${this.bucket}`);
    }
    try {
      await this.client.send(new this.sdk.CreateBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      if (nameOf(err) === 'BucketAlreadyOwnedByYou') return false;
      throw s3Error(err, `create bucket ${this.bucket}`);
    }
    return true;
  }

  /** Fails unless the bucket exists (NOT_FOUND). */
  async checkBucket(): Promise<void> {
    try {
      await this.client.send(new this.sdk.HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      if (statusOf(err) === 404) {
        throw new FerryError(
          'NOT_FOUND',
          `no bucket named '${this.bucket}' at ${this.endpoint}: create it first`,
        );
      }
      throw s3Error(err, `check bucket ${this.bucket}`);
    }
  }

  async deleteBucket(): Promise<void> {
    try {
      await this.client.send(new this.sdk.DeleteBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      throw s3Error(err, `delete bucket ${this.bucket}`);
    }
  }

  /** The object's size, time and ferry metadata; null when no object has that key. */
  async head(key: string): Promise<ObjectHead | null> {
    try {
      const r = await this.client.send(new this.sdk.HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        sizeBytes: r.ContentLength ?? 0,
        lastModifiedMs: r.LastModified?.getTime() ?? Date.now(),
        meta: r.Metadata ?? {},
      };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw s3Error(err, `stat ${key}`);
    }
  }

  /** Bytes [start, end) of an object, copied into `target` at `at`. */
  async getRange(key: string, start: number, end: number, target: Uint8Array, at: number): Promise<void> {
    try {
      const r = await this.client.send(
        new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${end - 1}` }),
      );
      const bytes = await r.Body!.transformToByteArray();
      if (bytes.length !== end - start) {
        throw new FerryError(
          'IO_ERROR',
          `S3 returned ${bytes.length} bytes of ${key} for the range ${start}..${end}: the object changed underneath; read again`,
        );
      }
      target.set(bytes, at);
    } catch (err) {
      throw s3Error(err, `read ${key}`);
    }
  }

  async put(key: string, body: Uint8Array, meta: Record<string, string>): Promise<void> {
    try {
      await this.client.send(
        new this.sdk.PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          Metadata: meta,
        }),
      );
    } catch (err) {
      throw s3Error(err, `write ${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      throw s3Error(err, `remove ${key}`);
    }
  }

  /** Server-side copy of `from` (of `sizeBytes`) to `to` with new metadata; part by part when large. */
  async copy(from: string, to: string, sizeBytes: number, meta: Record<string, string>): Promise<void> {
    if (sizeBytes <= S3_LIMITS.MAX_SINGLE_COPY_BYTES) {
      try {
        await this.client.send(
          new this.sdk.CopyObjectCommand({
            Bucket: this.bucket,
            Key: to,
            CopySource: this.copySource(from),
            MetadataDirective: 'REPLACE',
            Metadata: meta,
          }),
        );
        return;
      } catch (err) {
        throw s3Error(err, `copy ${from} to ${to}`);
      }
    }
    const uploadId = await this.createUpload(to, meta);
    try {
      const parts: UploadedPart[] = [];
      for (let start = 0, n = 1; start < sizeBytes; start += S3_LIMITS.COPY_PART_BYTES, n++) {
        const end = Math.min(sizeBytes, start + S3_LIMITS.COPY_PART_BYTES);
        parts.push({ partNumber: n, etag: await this.copyPart(to, uploadId, n, from, start, end) });
      }
      await this.completeUpload(to, uploadId, parts);
    } catch (err) {
      await this.abortUpload(to, uploadId).catch(() => undefined);
      throw err;
    }
  }

  async createUpload(key: string, meta: Record<string, string>): Promise<string> {
    try {
      const r = await this.client.send(
        new this.sdk.CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, Metadata: meta }),
      );
      return r.UploadId!;
    } catch (err) {
      throw s3Error(err, `start a multipart upload of ${key}`);
    }
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array): Promise<string> {
    try {
      const r = await this.client.send(
        new this.sdk.UploadPartCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: body,
          ContentLength: body.length,
        }),
      );
      return r.ETag!;
    } catch (err) {
      throw s3Error(err, `upload part ${partNumber} of ${key}`);
    }
  }

  /** Copies bytes [start, end) of `from` as part `partNumber` of an upload to `key`. */
  async copyPart(
    key: string,
    uploadId: string,
    partNumber: number,
    from: string,
    start: number,
    end: number,
  ): Promise<string> {
    try {
      const r = await this.client.send(
        new this.sdk.UploadPartCopyCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
          CopySource: this.copySource(from),
          CopySourceRange: `bytes=${start}-${end - 1}`,
        }),
      );
      return r.CopyPartResult!.ETag!;
    } catch (err) {
      throw s3Error(err, `copy part ${partNumber} of ${key} from ${from}`);
    }
  }

  async completeUpload(key: string, uploadId: string, parts: UploadedPart[]): Promise<void> {
    try {
      await this.client.send(
        new this.sdk.CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
        }),
      );
    } catch (err) {
      throw s3Error(err, `complete the multipart upload of ${key}`);
    }
  }

  async abortUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(
        new this.sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }),
      );
    } catch (err) {
      if (statusOf(err) === 404) return;
      throw s3Error(err, `abort the multipart upload of ${key}`);
    }
  }

  /** One page of ListObjectsV2. */
  async list(opts: {
    prefix: string;
    delimiter?: string;
    startAfter?: string;
    continuation?: string;
    maxKeys: number;
  }): Promise<ObjectPage> {
    try {
      const r = await this.client.send(
        new this.sdk.ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: opts.prefix === '' ? undefined : opts.prefix,
          Delimiter: opts.delimiter,
          StartAfter: opts.continuation === undefined ? opts.startAfter : undefined,
          ContinuationToken: opts.continuation,
          MaxKeys: opts.maxKeys,
        }),
      );
      return {
        objects: (r.Contents ?? []).map((o) => ({
          key: o.Key!,
          sizeBytes: o.Size ?? 0,
          lastModifiedMs: o.LastModified?.getTime() ?? 0,
        })),
        prefixes: (r.CommonPrefixes ?? []).map((p) => p.Prefix!),
        continuation: r.IsTruncated === true ? (r.NextContinuationToken ?? null) : null,
      };
    } catch (err) {
      throw s3Error(err, `list ${this.bucket}`);
    }
  }

  /** Every unfinished multipart upload in the bucket. */
  async *pendingUploads(): AsyncGenerator<PendingUpload> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      let r;
      try {
        r = await this.client.send(
          new this.sdk.ListMultipartUploadsCommand({
            Bucket: this.bucket,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        );
      } catch (err) {
        throw s3Error(err, `list the unfinished uploads of ${this.bucket}`);
      }
      for (const u of r.Uploads ?? []) {
        yield { key: u.Key!, uploadId: u.UploadId!, initiatedMs: u.Initiated?.getTime() ?? 0 };
      }
      if (r.IsTruncated !== true) return;
      keyMarker = r.NextKeyMarker;
      uploadIdMarker = r.NextUploadIdMarker;
    }
  }

  destroy(): void {
    this.client.destroy();
  }

  private copySource(key: string): string {
    return `${this.bucket}/${encodeURIComponent(key)}`;
  }
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function nameOf(err: unknown): string {
  return (err as { name?: string; Code?: string })?.name ?? '';
}

/** An S3 or network failure as a FerryError whose message says what to do. */
export function s3Error(err: unknown, what: string): FerryError {
  if (err instanceof FerryError) return err;
  const name = nameOf(err);
  const status = statusOf(err);
  const code = (err as { code?: string })?.code;
  const detail = `${name}${status === undefined ? '' : ` (HTTP ${status})`}: ${(err as Error)?.message ?? String(err)}`;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ECONNRESET') {
    return new FerryError(
      'UNREACHABLE',
      `S3 gateway did not answer (${what}): ${code}; check the --s3 URL and that the gateway runs`,
      undefined,
      err,
    );
  }
  if (name === 'TimeoutError' || code === 'ETIMEDOUT') {
    return new FerryError(
      'TIMEOUT',
      `S3 request timed out (${what}): check that the gateway is running and not overloaded`,
      undefined,
      err,
    );
  }
  if (
    status === 403 ||
    name === 'AccessDenied' ||
    name === 'InvalidAccessKeyId' ||
    name === 'SignatureDoesNotMatch'
  ) {
    return new FerryError(
      'PERMISSION_DENIED',
      `S3 refused ${what} (${detail}): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or --s3-credentials) and the user's rights on the bucket`,
      undefined,
      err,
    );
  }
  if (name === 'QuotaExceeded' || name === 'EntityTooLarge') {
    return new FerryError(
      'NO_SPACE',
      `S3 refused ${what}: the bucket's quota is full (${detail}); delete files or raise the quota`,
      undefined,
      err,
    );
  }
  if (name === 'NoSuchBucket') {
    return new FerryError(
      'NOT_FOUND',
      `S3 bucket is gone (${what}): create it again or restart ferry serve --s3`,
      undefined,
      err,
    );
  }
  if (status === 404 || name === 'NoSuchKey' || name === 'NotFound') {
    return new FerryError(
      'NOT_FOUND',
      `S3 has no such object (${what}): another server may have removed it`,
      undefined,
      err,
    );
  }
  return new FerryError(
    'IO_ERROR',
    `S3 failed to ${what}: ${detail}; check the gateway's log`,
    undefined,
    err,
  );
}
