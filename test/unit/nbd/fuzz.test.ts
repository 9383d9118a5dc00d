// Fuzz of the handshake and request parser: many short connections send random or mutated bytes.
// The server (in this process: a crash or an unhandled rejection fails the test) must survive,
// leak no connection, and still serve a well-behaved client afterwards. Seeded; the seed is logged.
import net from 'node:net';
import test from 'ava';
import { nbdProtocol as P } from '../../../src/index.js';
import {
  encodeClientFlags,
  encodeInfoRequest,
  encodeMetaContextRequest,
  encodeOption,
} from '../../../src/nbd/handshake-codec.js';
import { encodeRequest } from '../../../src/nbd/transmission-codec.js';
import { startNbd } from './harness.js';
import { prng as rng } from '../../helpers/seed.js';
import { readData, replyError } from './raw-client.js';

const CONNECTIONS = 240;
const BATCH = 24;

function request(type: number, offset: number, length: number, flags = 0, payload?: Buffer): Buffer {
  const h = Buffer.alloc(28);
  encodeRequest(h, 0, { type, flags, cookieHi: 0, cookieLo: 1, offset, length });
  return payload ? Buffer.concat([h, payload]) : h;
}

/** A valid client byte stream: flags, options, GO, then a few requests. */
function validStream(rand: () => number): Buffer {
  const parts: Buffer[] = [encodeClientFlags(P.NBD_FLAG_C_FIXED_NEWSTYLE | P.NBD_FLAG_C_NO_ZEROES)];
  parts.push(encodeOption(P.NBD_OPT_STRUCTURED_REPLY));
  parts.push(
    encodeOption(
      P.NBD_OPT_SET_META_CONTEXT,
      encodeMetaContextRequest({ exportName: '', queries: [P.BASE_ALLOCATION] }),
    ),
  );
  parts.push(encodeOption(P.NBD_OPT_LIST));
  parts.push(encodeOption(P.NBD_OPT_GO, encodeInfoRequest({ exportName: '', infoTypes: [3] })));
  for (let i = 0; i < 6; i++) {
    const type = Math.floor(rand() * 9);
    const offset = Math.floor(rand() * 70_000);
    const length = Math.floor(rand() * 5000);
    parts.push(
      request(
        type,
        offset,
        length,
        Math.floor(rand() * 4),
        type === P.NBD_CMD_WRITE ? Buffer.alloc(length, 0x5a) : undefined,
      ),
    );
  }
  return Buffer.concat(parts);
}

function mutate(b: Buffer, rand: () => number): Buffer {
  const out = Buffer.from(b);
  const flips = 1 + Math.floor(rand() * 8);
  for (let i = 0; i < flips; i++) {
    const at = Math.floor(rand() * out.length);
    const kind = rand();
    if (kind < 0.5) out[at] = Math.floor(rand() * 256);
    else if (kind < 0.75) out[at] = 0xff;
    else out.writeUInt8(0, at);
  }
  if (rand() < 0.3) return out.subarray(0, Math.floor(rand() * out.length));
  return out;
}

function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

/** Connects, sends `bytes` in a few pieces, half-closes, and waits (bounded) for the server to close. */
function shortConnection(socketPath: string, bytes: Buffer, rand: () => number): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    const timer = setTimeout(() => s.destroy(), 3000);
    s.on('error', () => {});
    s.on('data', () => {});
    s.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    s.once('connect', () => {
      let at = 0;
      while (at < bytes.length) {
        const n = 1 + Math.floor(rand() * Math.max(1, bytes.length - at));
        s.write(bytes.subarray(at, at + n));
        at += n;
      }
      if (rand() < 0.2) s.destroy();
      else s.end();
    });
  });
}

test('random and mutated bytes from many short connections never break the server', async (t) => {
  const seed = Number(process.env.FERRY_FUZZ_SEED ?? Date.now() % 2 ** 31);
  t.log(`seed ${seed} (rerun with FERRY_FUZZ_SEED=${seed})`);
  const rand = rng(seed);
  const h = await startNbd(t, { config: { handshakeTimeoutMs: 2000 } }, 64 * 1024);
  for (let done = 0; done < CONNECTIONS; done += BATCH) {
    const batch: Promise<void>[] = [];
    for (let i = 0; i < BATCH; i++) {
      const kind = rand();
      const bytes =
        kind < 0.2
          ? randomBytes(rand, Math.floor(rand() * 300))
          : kind < 0.3
            ? Buffer.concat([
                encodeClientFlags(1),
                encodeOption(Math.floor(rand() * 2 ** 32), randomBytes(rand, Math.floor(rand() * 64))),
              ])
            : kind < 0.4
              ? Buffer.concat([validStream(rand).subarray(0, 4), randomBytes(rand, 200)])
              : mutate(validStream(rand), rand);
      batch.push(shortConnection(h.socketPath, bytes, rand));
    }
    await Promise.all(batch);
  }
  // Every connection is gone on the server side too.
  for (let i = 0; i < 100 && h.server.connectionCount > 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.is(h.server.connectionCount, 0, `seed ${seed}: connections leaked`);

  const c = await h.connect();
  await c.negotiate({ structured: true });
  c.request(P.NBD_CMD_WRITE, 100, 5, 1, 0, Buffer.from('alive'));
  t.is(replyError(await c.readReply()), 0, `seed ${seed}`);
  c.request(P.NBD_CMD_READ, 100, 5, 2);
  t.true(readData(await c.readReply(), 100, 5).equals(Buffer.from('alive')), `seed ${seed}`);
});
