// The native AEAD context against node:crypto: what one path seals the other opens (plain and
// gathered packets, TCP frames), both produce the same bytes, and every flipped bit of a sealed packet
// (header, SACK range, body, tag) is refused by both openers, with the buffer left as it was. Also the
// start-up choice (FERRY_AEAD, FERRY_REQUIRE_NATIVE).
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { FrameOpener, FrameSealer } from '../../../src/transport/crypto/frame-aead.js';
import { aeadKind, selectAeadKind, type AeadKind } from '../../../src/transport/crypto/native-aead.js';
import { PacketOpener, PacketSealer } from '../../../src/transport/crypto/packet-aead.js';
import { writeU64 } from '../../../src/wire/packet-codec.js';
import { AEAD_TAG_BYTES, HEADER_BYTES, PACKET_NUMBER_OFFSET } from '../../../src/wire/packet-layout.js';
import { aeadRuns } from '../../helpers/aead.js';
import { endpoint } from '../../helpers/transport.js';

const key = randomBytes(32);
const iv = randomBytes(12);
/** The AAD of the packets here: a header and one SACK range's worth of bytes. */
const AAD_BYTES = HEADER_BYTES + 12;
const PAIRS: readonly [AeadKind, AeadKind][] = [
  ['node', 'native'],
  ['native', 'node'],
  ['native', 'native'],
];
const nativeTest = aeadRuns('native') ? test : test.skip;

/** A packet-shaped buffer: random AAD with packet number `pn`, `bodyBytes` of random body, room for the tag. */
function packet(pn: number, bodyBytes: number): { buf: Buffer; length: number } {
  const length = AAD_BYTES + bodyBytes;
  const buf = randomBytes(length + AEAD_TAG_BYTES + 64);
  writeU64(buf, PACKET_NUMBER_OFFSET, pn);
  return { buf, length };
}

/** A copy of `plain` with room for the tag after it. */
function withRoom(plain: Buffer): Buffer {
  return Buffer.concat([plain, Buffer.alloc(AEAD_TAG_BYTES)]);
}

function sealWith(kind: AeadKind, buf: Buffer, length: number, slices?: Uint8Array[]): Buffer {
  const n = new PacketSealer(key, iv, kind).seal(buf, AAD_BYTES, length, slices, slices?.length ?? 0);
  return Buffer.from(buf.subarray(0, n));
}

for (const [from, to] of PAIRS) {
  nativeTest(`sealed by ${from}, opened by ${to}: plain packets of 0, 1,452 and 65,507 B`, (t) => {
    for (const [pn, size] of [
      [1, 0],
      [2 ** 32 + 7, 1452 - AAD_BYTES - AEAD_TAG_BYTES],
      [2 ** 53 - 1, 65507 - AAD_BYTES - AEAD_TAG_BYTES],
    ] as const) {
      const { buf, length } = packet(pn, size);
      const plain = Buffer.from(buf.subarray(0, length));
      const wire = sealWith(from, buf, length);
      t.is(wire.length, length + AEAD_TAG_BYTES);
      t.deepEqual(wire, sealWith(to, withRoom(plain), length), 'both paths seal to the same bytes');
      const opener = new PacketOpener(key, iv, to);
      t.true(opener.open(wire, AAD_BYTES), `${size} B opens`);
      t.deepEqual(wire.subarray(0, length), plain);
      t.false(opener.open(sealWith(from, withRoom(plain), length), AAD_BYTES), 'a replay is refused');
    }
  });

  nativeTest(`sealed by ${from}, opened by ${to}: gathered slices`, (t) => {
    const { buf, length } = packet(9, 40);
    const payload = randomBytes(3000);
    const slices = [
      payload.subarray(0, 1000),
      payload.subarray(1000, 1000),
      payload.subarray(1000, 1001),
      payload.subarray(1001),
    ];
    const expected = Buffer.concat([buf.subarray(0, length), payload]);
    const wire = sealWith(
      from,
      Buffer.concat([buf.subarray(0, length), Buffer.alloc(3000 + AEAD_TAG_BYTES)]),
      length,
      slices,
    );
    t.deepEqual(payload.subarray(0, 3000), Buffer.concat(slices), 'the slices stay plaintext');
    t.true(new PacketOpener(key, iv, to).open(wire, AAD_BYTES));
    t.deepEqual(wire.subarray(0, expected.length), expected);
  });

  nativeTest(`sealed by ${from}, opened by ${to}: TCP frames (pieces and whole)`, (t) => {
    const header = randomBytes(16);
    const pieces = [randomBytes(100), randomBytes(0), randomBytes(70_000)];
    const sealer = new FrameSealer(key, iv, from);
    const opener = new FrameOpener(key, iv, to);
    const written: Buffer[] = [];
    sealer.sealPieces(header, pieces, (b) => written.push(Buffer.from(b)));
    const sealed = Buffer.concat(written);
    t.deepEqual(sealed.subarray(0, 16), header);
    t.deepEqual(opener.open(header, Buffer.from(sealed.subarray(16))), Buffer.concat(pieces));
    const frame = Buffer.concat([Buffer.alloc(16, 3), randomBytes(50)]);
    const whole = sealer.sealFrame(frame, 16);
    t.is(whole.length, frame.length + AEAD_TAG_BYTES);
    t.deepEqual(opener.open(whole.subarray(0, 16), Buffer.from(whole.subarray(16))), frame.subarray(16));
    const bad = Buffer.from(sealer.sealFrame(frame, 16));
    bad[20]! ^= 1;
    const before = Buffer.from(bad);
    t.is(opener.open(bad.subarray(0, 16), bad.subarray(16)), null, 'a flipped bit fails the frame');
    t.deepEqual(bad, before, 'a refused frame is left as it was');
  });
}

for (const sealKind of ['node', 'native'] as const) {
  nativeTest(
    `every flipped bit of a packet sealed by ${sealKind} is refused by both openers, buffer unchanged`,
    (t) => {
      const { buf, length } = packet(77, 40);
      const wire = sealWith(sealKind, buf, length);
      const openers = {
        node: new PacketOpener(key, iv, 'node'),
        native: new PacketOpener(key, iv, 'native'),
      };
      let refused = 0;
      for (let bit = 0; bit < wire.length * 8; bit++) {
        const bad = Buffer.from(wire);
        bad[bit >>> 3]! ^= 1 << (bit & 7);
        for (const kind of ['node', 'native'] as const) {
          const copy = Buffer.from(bad);
          if (!openers[kind].open(copy, AAD_BYTES) && copy.equals(bad)) refused++;
        }
      }
      t.is(refused, wire.length * 8 * 2);
      for (const kind of ['node', 'native'] as const)
        t.true(openers[kind].open(Buffer.from(wire), AAD_BYTES), `${kind}: the intact packet still opens`);
    },
  );
}

nativeTest('a native opener leaves no plaintext in the buffer when the tag fails', (t) => {
  const { buf, length } = packet(5, 1000);
  const plain = Buffer.from(buf.subarray(AAD_BYTES, length));
  const wire = sealWith('native', buf, length);
  wire[wire.length - 1]! ^= 0x80;
  const before = Buffer.from(wire);
  t.false(new PacketOpener(key, iv, 'native').open(wire, AAD_BYTES));
  t.deepEqual(wire, before);
  t.false(wire.includes(plain.subarray(0, 64)));
});

test('the AEAD choice: FERRY_AEAD wins, native when available, a missing native AEAD refused when required', (t) => {
  const have = () => ({ cls: class {} as never });
  const missing = () => ({ cls: null, reason: 'not built' });
  t.is(selectAeadKind({}, have), 'native');
  t.is(selectAeadKind({}, missing), 'node');
  t.is(selectAeadKind({ FERRY_AEAD: 'node' }, have), 'node');
  t.is(selectAeadKind({ FERRY_AEAD: 'node', FERRY_REQUIRE_NATIVE: '1' }, missing), 'node');
  t.throws(() => selectAeadKind({ FERRY_REQUIRE_NATIVE: '1' }, missing), {
    message: /FERRY_REQUIRE_NATIVE=1 but the native AEAD is not available: not built/,
  });
  t.throws(() => selectAeadKind({ FERRY_AEAD: 'native' }, missing), { message: /FERRY_AEAD=native/ });
  t.throws(() => selectAeadKind({ FERRY_AEAD: 'fast' }, have), { message: /FERRY_AEAD must be/ });
});

test('an encrypting UDP endpoint shows the AEAD in its stats; an open one shows none', async (t) => {
  const sealing = await endpoint(t, { host: '127.0.0.1', port: 0, encrypt: true });
  t.is(sealing.stats().aead, aeadKind());
  if (process.env.FERRY_REQUIRE_NATIVE === '1') t.is(sealing.stats().aead, 'native');
  const open = await endpoint(t, { host: '127.0.0.1', port: 0, encrypt: false });
  t.is(open.stats().aead, undefined);
});
