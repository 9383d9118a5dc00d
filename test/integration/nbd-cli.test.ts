// `ferry nbd` as a user runs it: usage errors, TCP on loopback,
// clean stop on SIGTERM/SIGINT, and data that survives a SIGKILL after a flushed write. Each case
// is a process start (seconds of CPU on a busy machine), so usage errors are a representative few.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { nbdProtocol as P } from '../../src/index.js';
import { runFerry } from '../helpers/cli.js';
import { RawNbdClient, readData, replyError } from '../unit/nbd/raw-client.js';
import { run, startFerryNbd, tempDir } from './nbd-helpers.js';

const MiB = 1024 * 1024;

const usageCases: [string, string[], RegExp][] = [
  ['no device', ['--unix', '/tmp/x.sock'], /exactly one device/],
  ['no listen address', ['--memory', '1M'], /--unix PATH or --listen HOST:PORT/],
  ['bad size', ['--memory', 'lots', '--unix', '/tmp/x.sock'], /--memory lots/],
  ['not loopback', ['--memory', '1M', '--listen', '0.0.0.0:0'], /no authentication.*--insecure/],
  ['bad config', ['--memory', '1M', '--unix', '/tmp/x.sock', '--config', 'maxInFlight=0'], /maxInFlight/],
  ['not a ferry URL', ['http://x/y', '--unix', '/tmp/x.sock'], /ferry:\/\/HOST:PORT\/DEV/],
  ['remote without a device', ['ferry://127.0.0.1:9000', '--unix', '/tmp/x.sock'], /name the device/],
];

for (const [name, args, message] of usageCases) {
  test(`bad usage (${name}): exit 2 and one line that says what to do`, async (t) => {
    const r = await runFerry(['nbd', ...args]);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, message);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  });
}

test('TCP on loopback: prints the address, serves nbdinfo, stops on SIGTERM with exit 0', async (t) => {
  const nbd = await startFerryNbd(t, ['--memory', '4MiB', '--listen', '127.0.0.1:0', '--export', 'tcpdisk']);
  t.regex(nbd.address, /^127\.0\.0\.1:\d+$/);
  t.regex(nbd.uri, /^nbd:\/\/127\.0\.0\.1:\d+\/tcpdisk$/);
  const r = await run(t, 'nbdinfo', ['--size', nbd.uri]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim(), String(4 * MiB));
  process.kill(nbd.child.pid!, 'SIGTERM');
  const end = await nbd.exited;
  t.is(end.code, 0, nbd.output());
  t.regex(nbd.output(), /stopped/);
});

test('a socket path where a server listens is refused (NBD_LISTEN_FAILED); SIGINT removes the socket', async (t) => {
  const dir = await tempDir(t);
  const sock = path.join(dir, 'n.sock');
  const first = await startFerryNbd(t, ['--memory', '1MiB', '--unix', sock]);
  const second = await runFerry(['nbd', '--memory', '1MiB', '--unix', sock]);
  t.is(second.code, 1);
  t.regex(second.stderr, /NBD_LISTEN_FAILED/);
  process.kill(first.child.pid!, 'SIGINT');
  t.is((await first.exited).code, 0, first.output());
  t.false(existsSync(sock), 'the socket file is gone');
});

test('SIGKILL after a flushed write to a file device: after a restart the data is there', async (t) => {
  const dir = await tempDir(t);
  const sock = path.join(dir, 'n.sock');
  const img = path.join(dir, 'disk.img');
  const args = ['--file', img, '--size', '16MiB', '--unix', sock];
  const first = await startFerryNbd(t, args);
  const data = Buffer.alloc(3 * MiB);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
  const c = await RawNbdClient.connect(sock);
  t.teardown(() => c.close());
  await c.negotiate({ structured: true });
  c.request(P.NBD_CMD_WRITE, 1 * MiB, 2 * MiB, 1, 0, data.subarray(0, 2 * MiB));
  c.request(P.NBD_CMD_WRITE, 8 * MiB, 1 * MiB, 2, P.NBD_CMD_FLAG_FUA, data.subarray(2 * MiB));
  t.is(replyError(await c.readReply()), 0);
  t.is(replyError(await c.readReply()), 0);
  c.request(P.NBD_CMD_FLUSH, 0, 0, 3);
  t.is(replyError(await c.readReply()), 0);
  process.kill(first.child.pid!, 'SIGKILL');
  t.is((await first.exited).signal, 'SIGKILL');

  const onDisk = await readFile(img);
  t.true(onDisk.subarray(1 * MiB, 3 * MiB).equals(data.subarray(0, 2 * MiB)), 'in the file itself');

  // The killed server left its socket file behind; the restart replaces it.
  const second = await startFerryNbd(t, args);
  t.truthy(second.uri);
  const d = await RawNbdClient.connect(sock);
  t.teardown(() => d.close());
  await d.negotiate({ structured: true });
  d.request(P.NBD_CMD_READ, 1 * MiB, 2 * MiB, 4);
  t.true(readData(await d.readReply(), 1 * MiB, 2 * MiB).equals(data.subarray(0, 2 * MiB)));
  d.request(P.NBD_CMD_READ, 8 * MiB, 1 * MiB, 5);
  t.true(readData(await d.readReply(), 8 * MiB, 1 * MiB).equals(data.subarray(2 * MiB)));
});
