/**
 * A small NBD client for tests: speaks raw bytes so a test can send exactly what it wants (valid,
 * malformed or pipelined) and check every byte the server answers. Not a test file itself.
 */
import net from 'node:net';
import { nbdProtocol as P } from '../../../src/index.js';
import {
  decodeGreeting,
  decodeOptionReplyHeader,
  encodeClientFlags,
  encodeInfoRequest,
  encodeMetaContextRequest,
  encodeOption,
  OPTION_REPLY,
} from '../../../src/nbd/handshake-codec.js';
import { CHUNK, encodeRequest, readU64, SIMPLE_REPLY } from '../../../src/nbd/transmission-codec.js';

export interface OptReply {
  option: number;
  replyType: number;
  data: Buffer;
}

export interface Chunk {
  flags: number;
  type: number;
  cookie: number;
  payload: Buffer;
}

export type Reply =
  | { kind: 'simple'; error: number; cookie: number; data: Buffer }
  | { kind: 'structured'; chunks: Chunk[]; cookie: number };

export interface GoResult {
  sizeBytes: number;
  flags: number;
  infos: OptReply[];
}

const DEFAULT_TIMEOUT_MS = 10_000;

export class RawNbdClient {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private wake: (() => void) | null = null;
  readonly closed: Promise<void>;
  structured = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.buffered += d.length;
      this.wake?.();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.wake?.();
        resolve();
      }),
    );
  }

  static connect(path: string): Promise<RawNbdClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(path);
      s.once('connect', () => resolve(new RawNbdClient(s)));
      s.once('error', reject);
    });
  }

  write(b: Uint8Array): void {
    this.socket.write(b);
  }

  close(): void {
    this.socket.destroy();
  }

  /** Exactly `n` bytes, or rejects when the connection ends first or nothing comes in time. */
  async read(n: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buffered < n) {
      if (this.ended) throw new Error(`connection closed with ${this.buffered} of ${n} bytes`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${n} bytes (have ${this.buffered})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
    const all = Buffer.concat(this.chunks);
    this.chunks = [all.subarray(n)];
    this.buffered -= n;
    return all.subarray(0, n);
  }

  /** True when the server closed the connection (after reading whatever it sent first). */
  async endsWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const t = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const r = await Promise.race([this.closed.then(() => true), t]);
    clearTimeout(timer);
    return r;
  }

  /** Reads the greeting and sends client flags; returns the handshake flags. */
  async greet(clientFlags = P.NBD_FLAG_C_FIXED_NEWSTYLE | P.NBD_FLAG_C_NO_ZEROES): Promise<number> {
    const g = decodeGreeting(await this.read(18));
    if (!g) throw new Error('bad greeting');
    this.write(encodeClientFlags(clientFlags));
    return g.handshakeFlags;
  }

  async readOptionReply(): Promise<OptReply> {
    const h = decodeOptionReplyHeader(await this.read(OPTION_REPLY.BYTES));
    if (!h) throw new Error('bad option reply magic');
    const data = h.lengthBytes > 0 ? await this.read(h.lengthBytes) : Buffer.alloc(0);
    return { option: h.option, replyType: h.replyType, data };
  }

  /** Sends an option and reads replies up to the final one (ACK or an error). */
  async option(option: number, data?: Uint8Array): Promise<OptReply[]> {
    this.write(encodeOption(option, data));
    const out: OptReply[] = [];
    for (;;) {
      const r = await this.readOptionReply();
      out.push(r);
      if (r.replyType === P.NBD_REP_ACK || P.isReplyError(r.replyType)) return out;
    }
  }

  /** A full, normal negotiation ending in NBD_OPT_GO. */
  async negotiate(
    opts: { exportName?: string; structured?: boolean; meta?: boolean } = {},
  ): Promise<GoResult> {
    await this.greet();
    if (opts.structured) {
      const r = await this.option(P.NBD_OPT_STRUCTURED_REPLY);
      if (r[0]!.replyType !== P.NBD_REP_ACK) throw new Error('structured replies refused');
      this.structured = true;
    }
    if (opts.meta) {
      const req = encodeMetaContextRequest({
        exportName: opts.exportName ?? '',
        queries: [P.BASE_ALLOCATION],
      });
      await this.option(P.NBD_OPT_SET_META_CONTEXT, req);
    }
    const replies = await this.option(
      P.NBD_OPT_GO,
      encodeInfoRequest({ exportName: opts.exportName ?? '', infoTypes: [P.NBD_INFO_BLOCK_SIZE] }),
    );
    const last = replies[replies.length - 1]!;
    if (last.replyType !== P.NBD_REP_ACK) throw new Error(`GO refused: 0x${last.replyType.toString(16)}`);
    const exp = replies.find(
      (r) => r.replyType === P.NBD_REP_INFO && r.data.readUInt16BE(0) === P.NBD_INFO_EXPORT,
    )!;
    return { sizeBytes: readU64(exp.data, 2), flags: exp.data.readUInt16BE(10), infos: replies };
  }

  /** Sends one request (and its payload). */
  request(
    type: number,
    offset: number,
    length: number,
    cookie: number,
    flags = 0,
    payload?: Uint8Array,
  ): void {
    const h = Buffer.alloc(28);
    encodeRequest(h, 0, { type, flags, cookieHi: 0, cookieLo: cookie, offset, length });
    this.write(payload ? Buffer.concat([h, payload]) : h);
  }

  /**
   * Reads one whole reply. For simple replies, `dataBytesOf(cookie)` says how many data bytes follow
   * a successful reply (the length of a READ, else 0). Structured replies are read to the DONE chunk.
   */
  async readReply(dataBytesOf: (cookie: number) => number = () => 0): Promise<Reply> {
    const magic = (await this.read(4)).readUInt32BE(0);
    if (magic === P.NBD_SIMPLE_REPLY_MAGIC) {
      const rest = await this.read(SIMPLE_REPLY.BYTES - 4);
      const error = rest.readUInt32BE(0);
      const cookie = rest.readUInt32BE(8);
      const n = error === 0 ? dataBytesOf(cookie) : 0;
      return { kind: 'simple', error, cookie, data: n > 0 ? await this.read(n) : Buffer.alloc(0) };
    }
    if (magic !== P.NBD_STRUCTURED_REPLY_MAGIC) throw new Error(`bad reply magic 0x${magic.toString(16)}`);
    const chunks: Chunk[] = [];
    let first = true;
    for (;;) {
      const rest = await this.read(CHUNK.BYTES - (first ? 4 : 0));
      const h = first ? Buffer.concat([Buffer.alloc(4), rest]) : rest;
      if (!first && h.readUInt32BE(0) !== P.NBD_STRUCTURED_REPLY_MAGIC) throw new Error('bad chunk magic');
      first = false;
      const length = h.readUInt32BE(CHUNK.LENGTH);
      const chunk: Chunk = {
        flags: h.readUInt16BE(CHUNK.FLAGS),
        type: h.readUInt16BE(CHUNK.TYPE),
        cookie: h.readUInt32BE(CHUNK.COOKIE + 4),
        payload: length > 0 ? await this.read(length) : Buffer.alloc(0),
      };
      chunks.push(chunk);
      if (chunk.flags & P.NBD_REPLY_FLAG_DONE) return { kind: 'structured', chunks, cookie: chunk.cookie };
    }
  }
}

/** The error value of a reply (0 on success). */
export function replyError(r: Reply): number {
  if (r.kind === 'simple') return r.error;
  const err = r.chunks.find((c) => c.type & 0x8000);
  return err ? err.payload.readUInt32BE(0) : 0;
}

/** The data a READ reply carries, with holes filled in as zeros. */
export function readData(r: Reply, offset: number, length: number): Buffer {
  if (r.kind === 'simple') return r.data;
  const out = Buffer.alloc(length);
  for (const c of r.chunks) {
    if (c.type === P.NBD_REPLY_TYPE_OFFSET_DATA) c.payload.copy(out, readU64(c.payload, 0) - offset, 8);
  }
  return out;
}
