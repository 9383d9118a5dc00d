import test, { type ExecutionContext } from 'ava';
import dgram from 'node:dgram';
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { runFerry, spawnFerry } from '../helpers/cli.js';

/** One running `ferry impair --json` child and what it printed. */
interface ProxyRun {
  child: ChildProcess;
  port: number;
  lines: () => Record<string, unknown>[];
  stop: (signal: NodeJS.Signals) => Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** The fields of ImpairmentStats this file reads from the JSON stats line. */
interface DirStats {
  seed: number;
  datagramsIn: number;
  datagramsDelivered: number;
  droppedLoss: number;
}

const BUFFER_BYTES = 4 * 1024 * 1024;

async function startProxy(t: ExecutionContext, args: string[]): Promise<ProxyRun> {
  const child = spawnFerry(['impair', '--listen', '127.0.0.1:0', ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines = (): Record<string, unknown>[] =>
    stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const deadline = Date.now() + 20_000;
  let port = 0;
  while (port === 0) {
    if (Date.now() > deadline || child.exitCode !== null) {
      throw new Error(`ferry impair did not start: ${stderr || stdout}`);
    }
    const start = lines().find((l) => l.event === 'start');
    if (start) port = Number(String(start.listen).split(':').pop());
    else await sleep(20);
  }
  const stop = async (signal: NodeJS.Signals) => {
    child.kill(signal);
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(killer);
    return { code, stdout, stderr };
  };
  return { child, port, lines, stop };
}

/** A UDP socket on 127.0.0.1 with large buffers, closed in teardown. */
async function udpSocket(t: ExecutionContext): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: BUFFER_BYTES, sendBufferSize: BUFFER_BYTES });
  t.teardown(() => new Promise<void>((resolve) => s.close(() => resolve())));
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return s;
}

/** An echo server: returns every datagram, prefixed with "echo:", to its sender. */
async function echoServer(t: ExecutionContext): Promise<{ socket: dgram.Socket; received: () => number }> {
  const socket = await udpSocket(t);
  let received = 0;
  socket.on('message', (msg, rinfo) => {
    received++;
    socket.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address);
  });
  return { socket, received: () => received };
}

/** Sends `count` numbered datagrams, paced in small batches so no socket buffer overflows. */
async function sendNumbered(socket: dgram.Socket, port: number, tag: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    socket.send(`${tag}:${i}`, port, '127.0.0.1');
    if (i % 50 === 49) await sleep(3);
  }
}

/**
 * Waits (at most 15 s) until `count()` reaches `target`, or, with no target, until it is above zero
 * and has not changed for quietMs (losses make the final count unknown in advance).
 */
async function settle(count: () => number, target?: number, quietMs = 1000): Promise<void> {
  const deadline = Date.now() + 15_000;
  let last = -1;
  while (Date.now() < deadline) {
    const now = count();
    if (target !== undefined ? now >= target : now > 0 && now === last) return;
    last = now;
    await sleep(target !== undefined ? 20 : quietMs);
  }
}

function collect(socket: dgram.Socket): string[] {
  const got: string[] = [];
  socket.on('message', (msg) => got.push(msg.toString()));
  return got;
}

test('forwards both ways and routes each reply back to the client that sent it', async (t) => {
  const server = await echoServer(t);
  const proxy = await startProxy(t, ['--to', `127.0.0.1:${server.socket.address().port}`, '--json']);
  const a = await udpSocket(t);
  const b = await udpSocket(t);
  const gotA = collect(a);
  const gotB = collect(b);
  const n = 300;
  await Promise.all([sendNumbered(a, proxy.port, 'a', n), sendNumbered(b, proxy.port, 'b', n)]);
  await settle(() => gotA.length + gotB.length, 2 * n);

  const expected = (tag: string) => Array.from({ length: n }, (_, i) => `echo:${tag}:${i}`).sort();
  t.deepEqual([...gotA].sort(), expected('a'));
  t.deepEqual([...gotB].sort(), expected('b'));

  const { code, stderr } = await proxy.stop('SIGTERM');
  t.is(code, 0, stderr);
  const stop = proxy.lines().find((l) => l.event === 'stop');
  t.truthy(stop, 'final stats line');
  t.like(stop, { datagramsUp: 2 * n, datagramsDown: 2 * n, clientsTotal: 2, clientsRefused: 0 });
});

test('loss is applied in both directions at the configured rate and reported with its seed', async (t) => {
  const seed = 7;
  t.log(`seed ${seed}`);
  const server = await echoServer(t);
  const proxy = await startProxy(t, [
    '--to',
    `127.0.0.1:${server.socket.address().port}`,
    '--loss',
    '0.2',
    '--seed',
    String(seed),
    '--json',
  ]);
  const client = await udpSocket(t);
  const got = collect(client);
  const n = 2000;
  await sendNumbered(client, proxy.port, 'c', n);
  await settle(() => got.length + server.received());
  const { code, stderr } = await proxy.stop('SIGTERM');
  t.is(code, 0, stderr);

  const stop = proxy.lines().find((l) => l.event === 'stop') as { up: DirStats; down: DirStats } | undefined;
  if (!stop) return t.fail('no final stats line');
  t.is(stop.up.seed, seed);
  t.is(stop.up.datagramsIn, n);
  // What the impairment let through is exactly what arrived: the only losses are the injected ones.
  t.is(server.received(), stop.up.datagramsDelivered);
  t.is(stop.down.datagramsIn, server.received());
  t.is(got.length, stop.down.datagramsDelivered);
  // 20 % loss each way, within 5 standard deviations of a binomial.
  const within = (dropped: number, trials: number) =>
    Math.abs(dropped - 0.2 * trials) <= 5 * Math.sqrt(trials * 0.2 * 0.8);
  t.true(within(stop.up.droppedLoss, n), `up dropped ${stop.up.droppedLoss} of ${n} (seed ${seed})`);
  t.true(
    within(stop.down.droppedLoss, stop.down.datagramsIn),
    `down dropped ${stop.down.droppedLoss} of ${stop.down.datagramsIn} (seed ${seed})`,
  );
  t.true(
    got.every((m) => /^echo:c:\d+$/.test(m)),
    'no datagram altered',
  );
});

test('text mode prints a start line and stats on SIGINT, and exits 0', async (t) => {
  const server = await echoServer(t);
  const child = spawnFerry([
    'impair',
    '--listen',
    '127.0.0.1:0',
    '--to',
    `127.0.0.1:${server.socket.address().port}`,
    '--delay',
    '5',
    '--seed',
    '3',
  ]);
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (!/listening on 127\.0\.0\.1:\d+/.test(stdout) && child.exitCode === null && Date.now() < deadline) {
    await sleep(20);
  }
  const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stdout)?.[1]);
  t.true(port > 0, `stdout: ${stdout}\nstderr: ${stderr}\nexit: ${child.exitCode}`);
  const client = await udpSocket(t);
  const got = collect(client);
  await sendNumbered(client, port, 't', 10);
  await settle(() => got.length, 10);
  t.is(got.length, 10);
  child.kill('SIGINT');
  t.is(await exited, 0);
  t.regex(stdout, /stopped after/);
  t.regex(stdout, /up +\(client -> target\): 10 in, 10 forwarded/);
  t.regex(stdout, /seed 3/);
});

test('bad usage exits 2 with one line that says what to fix', async (t) => {
  const cases: [string[], RegExp][] = [
    [['impair', '--listen', '127.0.0.1:0'], /Missing required argument: to/],
    [['impair', '--listen', '127.0.0.1:0', '--to', '127.0.0.1:9', '--loss', '2'], /loss.*0 to 1/],
    [['impair', '--listen', '127.0.0.1:0', '--to', '10.1.2.3:9'], /not loopback.*--insecure/],
    [
      ['impair', '--listen', '127.0.0.1:0', '--to', '127.0.0.1:9', '--config', 'nosuch=1'],
      /unknown setting "nosuch"/,
    ],
    [['impair', '--listen', '127.0.0.1:0', '--to', 'example.org:9'], /IP address/],
    [['impair', '--listen', '127.0.0.1:0', '--to', '127.0.0.1:9', '--direction', 'sideways'], /direction/],
  ];
  const results = await Promise.all(cases.map(([args]) => runFerry(args, { timeoutMs: 30_000 })));
  results.forEach((r, i) => {
    const [args, pattern] = cases[i]!;
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, pattern);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  });
});
