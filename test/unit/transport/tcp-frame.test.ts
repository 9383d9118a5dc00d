import test from 'ava';
import fc from 'fast-check';
import {
  decodeChallengeBody,
  decodeCloseBody,
  decodeConfirmBody,
  decodeHelloBody,
  encodeChallengeBody,
  encodeCloseBody,
  encodeFrame,
  encodeHelloBody,
  readDeliveredRanges,
  writeDeliveredRanges,
  writeFrameHeader,
} from '../../../src/transport/tcp/frame-codec.js';
import {
  CloseReason,
  FRAME_HEADER_BYTES,
  FrameType,
  MAX_DELIVERED_RANGES,
  PROTOCOL_VERSION,
} from '../../../src/transport/tcp/frame-layout.js';
import { FrameReader, type FrameFields } from '../../../src/transport/tcp/frame-reader.js';
import { HeaderSlab, SLAB_BYTES } from '../../../src/transport/tcp/header-slab.js';
import { referenceDecodeStream, type ReferenceFrame } from './tcp-frame-reference.js';

const MAX_DATA = 1 << 16;

/** Feeds `chunks` to a FrameReader; returns the frames and the last status. */
function readAll(chunks: Buffer[], maxData = MAX_DATA): { frames: ReferenceFrame[]; status: string } {
  const frames: ReferenceFrame[] = [];
  const reader = new FrameReader(maxData, {
    onFrame(f: FrameFields, body: Buffer): boolean {
      frames.push({ type: f.type, flags: f.flags, seq: f.seq, body: [...body] });
      return true;
    },
  });
  let status = 'ok';
  for (const c of chunks) {
    status = reader.push(c);
    if (status !== 'ok') break;
  }
  return { frames, status };
}

/** Cuts `buf` at the given points (sorted, deduplicated, inside the buffer). */
function cut(buf: Buffer, points: number[]): Buffer[] {
  const at = [...new Set(points.map((p) => p % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...at, buf.length]) {
    if (p > prev) out.push(buf.subarray(prev, p));
    prev = Math.max(prev, p);
  }
  return out;
}

const frameArb = fc.oneof(
  fc.record({
    type: fc.constant(FrameType.DATA),
    flags: fc.constantFrom(0, 1),
    seq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    body: fc.uint8Array({ maxLength: 3000 }),
  }),
  fc.record({
    type: fc.integer({ min: 1, max: 9 }).filter((t) => t !== FrameType.DATA),
    flags: fc.constant(0),
    seq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    body: fc.uint8Array({ maxLength: 64 }),
  }),
);

function encodeStream(frames: { type: number; flags: number; seq: number; body: Uint8Array }[]): Buffer {
  return Buffer.concat(frames.map((f) => encodeFrame(f.type, f.flags, f.seq, Buffer.from(f.body))));
}

test('frames round-trip through the reader however the stream is cut, and match the reference decoder', (t) => {
  fc.assert(
    fc.property(
      fc.array(frameArb, { maxLength: 20 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      (frames, points) => {
        const stream = encodeStream(frames);
        const expected = frames.map((f) => ({ type: f.type, flags: f.flags, seq: f.seq, body: [...f.body] }));
        const ref = referenceDecodeStream(stream, MAX_DATA);
        t.deepEqual(ref, { frames: expected, error: null, leftover: 0 });
        const got = readAll(cut(stream, points));
        t.is(got.status, 'ok');
        t.deepEqual(got.frames, expected);
      },
    ),
  );
});

test('random bytes: the reader agrees with the reference on frames and on the error, chunked or whole', (t) => {
  fc.assert(
    fc.property(
      fc.array(frameArb, { maxLength: 4 }),
      fc.uint8Array({ minLength: 1, maxLength: 64 }),
      fc.boolean(),
      fc.array(fc.nat(), { maxLength: 10 }),
      (frames, garbage, magic, points) => {
        const g = Buffer.from(garbage);
        if (magic && g.length >= 2) g.writeUInt16BE(0x4654, 0);
        const stream = Buffer.concat([encodeStream(frames), g]);
        const ref = referenceDecodeStream(stream, MAX_DATA);
        const got = readAll(cut(stream, points));
        t.deepEqual(got.frames, ref.frames);
        t.is(got.status, ref.error ?? 'ok');
      },
    ),
  );
});

test('an oversize length is refused at the header, before any body byte or allocation', (t) => {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  writeFrameHeader(header, 0, FrameType.DATA, 0, 0xffff_ffff, 1);
  t.is(readAll([header], 1024).status, 'tooLarge');
  writeFrameHeader(header, 0, FrameType.DATA, 0, 1025, 1);
  t.is(readAll([header], 1024).status, 'tooLarge');
  writeFrameHeader(header, 0, FrameType.DATA, 0, 1024, 1);
  const reader = new FrameReader(1024, { onFrame: () => true });
  t.is(reader.push(header), 'ok');
  t.is(reader.pendingBytes, 1024, 'a body within the limit is awaited in one buffer of its size');
  writeFrameHeader(header, 0, FrameType.ACK, 0, 12 * 1024 + 1, 1);
  t.is(readAll([header]).status, 'tooLarge', 'control frames have their own, small limit');
  writeFrameHeader(header, 0, FrameType.ACK, 1, 0, 1);
  t.is(readAll([header]).status, 'malformed', 'flags only on DATA');
  header.writeUInt32BE(0x0020_0000, 8);
  t.is(readAll([header]).status, 'malformed', 'a sequence beyond 2^53');
});

test('a body inside one chunk is handed over without a copy; a split one is copied once', (t) => {
  const stream = Buffer.concat([
    encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(1000, 1)),
    encodeFrame(FrameType.DATA, 0, 2, Buffer.alloc(1000, 2)),
  ]);
  const bodies: Buffer[] = [];
  const reader = new FrameReader(MAX_DATA, {
    onFrame: (_f, body) => {
      bodies.push(body);
      return true;
    },
  });
  t.is(reader.push(stream), 'ok');
  t.is(reader.copiedBytes, 0);
  t.is(bodies[0]!.buffer, stream.buffer, 'a view of the chunk');
  const split = encodeFrame(FrameType.DATA, 0, 3, Buffer.alloc(1000, 3));
  t.is(reader.push(split.subarray(0, 10)), 'ok');
  t.is(reader.push(split.subarray(10, 500)), 'ok');
  t.is(reader.push(split.subarray(500)), 'ok');
  t.is(reader.copiedBytes, 16 + 1000, 'the split header and the split body, each byte copied once');
  t.true(bodies[2]!.equals(Buffer.alloc(1000, 3)));
});

test('a sink that returns false stops the reader', (t) => {
  const stream = Buffer.concat([
    encodeFrame(FrameType.HEARTBEAT, 0, 0),
    encodeFrame(FrameType.HEARTBEAT, 0, 0),
  ]);
  let n = 0;
  const reader = new FrameReader(MAX_DATA, {
    onFrame: () => {
      n++;
      return false;
    },
  });
  t.is(reader.push(stream), 'stopped');
  t.is(n, 1);
});

test('handshake, DELIVERED and CLOSE bodies round-trip; bad ones are refused', (t) => {
  const hello = {
    version: PROTOCOL_VERSION,
    listenPort: 7000,
    connectionId: 0x0123_4567_89ab_cdefn,
    incarnation: 1_700_000_000_000,
    nonce: Buffer.alloc(16, 9),
    encrypt: true,
    publicKey: Buffer.alloc(32, 7),
  };
  t.deepEqual(decodeHelloBody(encodeHelloBody(hello)), hello);
  const challenge = { ...hello, encrypt: false };
  t.deepEqual(decodeChallengeBody(encodeChallengeBody(challenge)), challenge);
  t.is(decodeHelloBody(encodeHelloBody({ ...hello, version: PROTOCOL_VERSION + 1 })), null);
  t.is(decodeHelloBody(encodeHelloBody({ ...hello, listenPort: 0 })), null);
  t.is(decodeHelloBody(encodeHelloBody({ ...hello, connectionId: 0n })), null);
  t.is(decodeHelloBody(Buffer.alloc(35)), null);
  const badFlags = encodeHelloBody(hello);
  badFlags[1] = 0x80;
  t.is(decodeHelloBody(badFlags), null, 'unknown HELLO flags');
  t.is(decodeConfirmBody(Buffer.alloc(31)), null);
  t.deepEqual(decodeConfirmBody(Buffer.alloc(32, 1)), Buffer.alloc(32, 1));
  t.is(decodeCloseBody(encodeCloseBody(CloseReason.DUPLICATE)), CloseReason.DUPLICATE);
  t.is(decodeCloseBody(Buffer.from([200])), -1);
  t.is(decodeCloseBody(Buffer.alloc(2)), -1);

  const starts = new Float64Array(MAX_DELIVERED_RANGES);
  const counts = new Uint32Array(MAX_DELIVERED_RANGES);
  const body = Buffer.alloc(24);
  writeDeliveredRanges(body, 0, [1, 2 ** 40], [5, 1], 2);
  t.is(readDeliveredRanges(body, starts, counts), 2);
  t.deepEqual([starts[0], counts[0], starts[1], counts[1]], [1, 5, 2 ** 40, 1]);
  t.is(readDeliveredRanges(Buffer.alloc(0), starts, counts), -1, 'empty');
  t.is(readDeliveredRanges(Buffer.alloc(13), starts, counts), -1, 'not whole ranges');
  t.is(readDeliveredRanges(Buffer.alloc(12), starts, counts), -1, 'start 0, count 0');
  t.is(readDeliveredRanges(Buffer.alloc(12 * (MAX_DELIVERED_RANGES + 1)), starts, counts), -1, 'too many');
});

test('header slab regions never overlap and a full slab is replaced, not reused', (t) => {
  const slab = new HeaderSlab();
  const seen: Buffer[] = [];
  for (let i = 0; i < (SLAB_BYTES / FRAME_HEADER_BYTES) * 2 + 3; i++) {
    const b = slab.take(FRAME_HEADER_BYTES);
    b.fill(i & 0xff);
    seen.push(b);
  }
  t.true(
    seen.every((b, i) => b.every((x) => x === (i & 0xff))),
    'no region was handed out twice',
  );
  t.is(slab.take(SLAB_BYTES).length, SLAB_BYTES, 'large requests get their own buffer');
});
