/**
 * Abandoned uploads expire: an unfinished upload idle past the part TTL (left resumable by its
 * client, or still open but silent) is aborted and its part file and journal removed, so it stops
 * holding quota; the server counts what unfinished uploads hold; and one address may hold at most
 * SERVER_MAX_UNFINISHED_UPLOADS_PER_HOST of them.
 */
import test from 'ava';
import { initChecksums } from '../../../src/core/checksum.js';
import { ManualClock } from '../../../src/core/clock.js';
import { isFerryError } from '../../../src/core/errors.js';
import { TRANSFER_LIMITS } from '../../../src/core/limits.js';
import { MemoryFlatFs } from '../../../src/flatfs/memory.js';
import { serveOnFakeNetwork } from '../../helpers/fake-server.js';

const TTL_MS = 60_000;
const SIZE = 100_000;

test.before(() => initChecksums());

async function setup(t: import('ava').ExecutionContext) {
  let wallMs = Date.now();
  const wall = () => wallMs;
  const fs = new MemoryFlatFs({ quotaBytes: 1 << 30, wallClockMs: wall });
  const clock = new ManualClock();
  const lines: string[] = [];
  const { server, client } = await serveOnFakeNetwork(t, fs, {
    clock,
    partTtlMs: TTL_MS,
    wallClockMs: wall,
    log: (l) => lines.push(l),
  });
  const begin = (name: string, resume = 0) =>
    client.rpc.call('UPLOAD_BEGIN', {
      sizeBytes: SIZE,
      blockBytes: 4096,
      fileMode: 0o644,
      sourceTag: 1n,
      resume,
      name,
    });
  const hidden = async () => (await fs.list({ includeHidden: true })).entries.map((e) => e.name);
  return {
    fs,
    server,
    client,
    clock,
    lines,
    begin,
    hidden,
    moveWall: (ms: number) => (wallMs += ms),
  };
}

test('an upload left resumable expires after the part TTL, its quota freed', async (t) => {
  const { server, client, begin, hidden, moveWall, fs } = await setup(t);
  await server.partSweeper!.sweep();
  const b = await begin('left.bin');
  await client.rpc.call('TRANSFER_ABORT', { transferId: b.transferId, keepJournal: 1 });
  t.deepEqual(await server.partUsage(), { uploads: 1, bytes: SIZE }, 'the part file is counted');
  const st = await client.statfs();
  t.is(st.partUploads, 1, 'STATFS (ferry stat) shows the unfinished uploads...');
  t.is(st.partBytes, SIZE, '...and the bytes their part files hold');
  t.is((await fs.statfs()).usedBytes, SIZE, 'and holds quota');
  moveWall(TTL_MS - 1000);
  t.is(await server.partSweeper!.sweep(), 0, 'not yet idle past the TTL');
  t.true((await hidden()).length > 0);
  moveWall(2000);
  t.is(await server.partSweeper!.sweep(), 1);
  t.deepEqual(await hidden(), [], 'part file and journal are gone');
  t.deepEqual(await server.partUsage(), { uploads: 0, bytes: 0 });
  t.is((await fs.statfs()).usedBytes, 0, 'the quota is free again');
});

test('an open upload whose client went silent expires on the periodic sweep', async (t) => {
  const { server, clock, begin, hidden, lines } = await setup(t);
  await begin('silent.bin');
  t.is((await server.partUsage()).uploads, 1);
  clock.advance(TTL_MS + 1);
  await server.partSweeper!.sweep();
  t.deepEqual(await hidden(), []);
  t.true(lines.some((l) => l.includes('silent.bin') && l.includes('expired')));
});

test('one address holds at most SERVER_MAX_UNFINISHED_UPLOADS_PER_HOST unfinished uploads', async (t) => {
  const { client, begin } = await setup(t);
  const cap = TRANSFER_LIMITS.SERVER_MAX_UNFINISHED_UPLOADS_PER_HOST;
  for (let i = 0; i < cap; i++) {
    const b = await begin(`u${i}`);
    await client.rpc.call('TRANSFER_ABORT', { transferId: b.transferId, keepJournal: 1 });
  }
  const e = await t.throwsAsync(begin('one-too-many'));
  t.true(isFerryError(e, 'LIMIT_EXCEEDED'), String(e));
  const again = await begin('u0', 1);
  t.pass('its own unfinished upload may be resumed');
  await client.rpc.call('TRANSFER_ABORT', { transferId: again.transferId, keepJournal: 0 });
  await t.notThrowsAsync(begin('now-there-is-room'), 'an upload dropped makes room');
});
