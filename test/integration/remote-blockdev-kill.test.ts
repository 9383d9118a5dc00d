// A ferry server killed mid-write: a RemoteBlockDevice's writes in flight fail with a session error
// (never hang, never succeed falsely), and what the device holds afterwards is, region by region,
// either the flushed data or a whole later write; every write that succeeded is there. The server is
// a child process (`ferry serve` with a file device), killed by pid with SIGKILL and started again on
// the same file.
import { randomFillSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { initChecksums } from '../../src/core/checksum.js';
import { FerryError } from '../../src/core/errors.js';
import { openClient } from '../../src/transfer/client/open-client.js';
import { RemoteBlockDevice } from '../../src/transfer/remote/remote-blockdev.js';
import { startServe, type ServeProcess } from '../helpers/server-process.js';

await initChecksums();

const MiB = 1024 * 1024;
const DEVICE_BYTES = 8 * MiB;
const REGION_BYTES = 64 * 1024;
const REGIONS = DEVICE_BYTES / REGION_BYTES;
/** What a write cut off by the server's death may fail with. */
const SESSION_ENDED = new Set(['PEER_DEAD', 'PEER_RESET', 'NOT_CONNECTED', 'TIMEOUT', 'CLOSED']);

/** `ferry serve` with `disk` backed by `file`, killed by pid in teardown. */
async function serve(t: ExecutionContext, file: string): Promise<ServeProcess> {
  const server = await startServe(['--insecure', '--blockdev', `disk=file:${file}:${DEVICE_BYTES}`]);
  t.teardown(() => server.kill());
  return server;
}

async function openDevice(t: ExecutionContext, port: number): Promise<RemoteBlockDevice> {
  const client = await openClient({ host: '127.0.0.1', port });
  const dev = await RemoteBlockDevice.open(client, 'disk', { ownsClient: true });
  t.teardown(async () => {
    if (!dev.closed) await dev.close().catch(() => undefined);
  });
  return dev;
}

test('a server killed mid-write: writes in flight fail, flushed data and acknowledged writes survive whole', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-kill-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'disk.img');

  const first = await serve(t, file);
  const dev = await openDevice(t, first.port);
  const flushed = Buffer.alloc(DEVICE_BYTES);
  randomFillSync(flushed);
  await dev.write(0, flushed);
  await dev.flush();

  // Every region rewritten with other bytes, all in flight at once; the server dies after the first
  // one is acknowledged. Each write lends its own buffer (it must stay untouched until it settles).
  const later = Buffer.alloc(DEVICE_BYTES);
  randomFillSync(later);
  const outcomes: Array<'ok' | string> = new Array<string>(REGIONS).fill('pending');
  let firstDone!: () => void;
  const oneDone = new Promise<void>((resolve) => (firstDone = resolve));
  const writes = Array.from({ length: REGIONS }, (_, i) =>
    dev.write(i * REGION_BYTES, later.subarray(i * REGION_BYTES, (i + 1) * REGION_BYTES)).then(
      () => {
        outcomes[i] = 'ok';
        firstDone();
      },
      (err: unknown) => {
        outcomes[i] = err instanceof FerryError ? err.code : String(err);
        firstDone();
      },
    ),
  );
  await oneDone;
  await first.kill();
  await Promise.all(writes);
  for (const o of outcomes) t.true(o === 'ok' || SESSION_ENDED.has(o), `a write ended with ${o}`);
  t.log(`${outcomes.filter((o) => o === 'ok').length} of ${REGIONS} writes acknowledged before the kill`);
  await dev.close().catch(() => undefined);

  const second = await serve(t, file);
  const back = await (await openDevice(t, second.port)).read(0, DEVICE_BYTES);
  for (let i = 0; i < REGIONS; i++) {
    const at = i * REGION_BYTES;
    const got = back.subarray(at, at + REGION_BYTES);
    const isLater = got.equals(later.subarray(at, at + REGION_BYTES));
    const isFlushed = got.equals(flushed.subarray(at, at + REGION_BYTES));
    if (outcomes[i] === 'ok') t.true(isLater, `region ${i}: its acknowledged write is there`);
    else t.true(isLater || isFlushed, `region ${i}: the flushed data or the whole later write`);
  }
});
