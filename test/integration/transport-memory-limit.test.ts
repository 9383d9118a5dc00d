/**
 * The reassembly memory attacks (helpers/memory-attack.ts) at a server process whose address space is
 * capped (prlimit --as, the `ulimit -v` of a running process) at what it maps when idle plus
 * HEADROOM_BYTES: before the endpoint's memory cap, the attacks' first fragments (gigabytes claimed)
 * made it die with `RangeError: Array buffer allocation failed`. Now it stays alive within its cap
 * and keeps answering a real client.
 *
 * Why prlimit after start and not `ulimit -v` before it: V8 and WebAssembly reserve tens of GB of
 * address space at start-up (guard regions), more or less by machine; a limit relative to what the
 * child mapped once ready tests the same headroom everywhere.
 */
import test from 'ava';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MiB } from '../../src/core/limits.js';
import type { Peer } from '../../src/index.js';
import { attackDatagrams, sendAll } from '../helpers/memory-attack.js';
import { hijackSession } from '../helpers/raw-udp.js';
import { endpoint, until } from '../helpers/transport.js';

const CHILD = fileURLToPath(new URL('./transport-memory-limit-child.ts', import.meta.url));
const CAP_BYTES = 512 * MiB;
const HEADROOM_BYTES = 1024 * MiB;
const PLAIN = { encrypt: false, socket: 'js' as const };

function hasPrlimit(): boolean {
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function start(): Promise<{ child: ChildProcess; port: number; vmSizeBytes: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, String(CAP_BYTES)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`child exited with ${code} before listening`)));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening (\d+) (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]), vmSizeBytes: Number(m[2]) * 1024 });
    });
  });
}

(hasPrlimit() && process.platform === 'linux' ? test : test.skip)(
  'udp: a server process with little address space to spare survives the reassembly attacks and keeps serving',
  async (t) => {
    const { child, port, vmSizeBytes } = await start();
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<string>((resolve) =>
      child.once('exit', (code, signal) => resolve(`exit ${code} ${signal}: ${stderr.slice(-400)}`)),
    );
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const limit = vmSizeBytes + HEADROOM_BYTES;
    execFileSync('prlimit', [`--pid=${child.pid}`, `--as=${limit}:${limit}`]);
    const server = { host: '127.0.0.1', port };

    const attacker = await endpoint(t, PLAIN);
    await attacker.connect(server);
    const { socket, remoteConnectionId } = hijackSession(attacker);
    await sendAll(socket, attackDatagrams('one-record', 40, remoteConnectionId, 1000, 1), server);
    await sendAll(socket, attackDatagrams('many-records', 200, remoteConnectionId, 2000, 100), server);
    await sendAll(socket, attackDatagrams('fifo-run', 40, remoteConnectionId, 3000, 5000), server);

    const client = await endpoint(t, PLAIN);
    const replies: string[] = [];
    client.onMessage((m) => void replies.push(m.payload.toString()));
    const ask = async (peer: Peer, payload: Buffer): Promise<string> => {
      const n = replies.length;
      await client.send(peer, payload, { mode: 'fifo' }).delivered;
      await until(() => replies.length > n);
      return replies[n]!;
    };
    const exchange = (async (): Promise<string> => {
      const peer = await client.connect(server);
      const big = await ask(peer, Buffer.alloc(4 * MiB, 1));
      const stats = await ask(peer, Buffer.from('stats'));
      return `${big} ${stats}`;
    })();
    const outcome = await Promise.race([exchange, exited.then((why) => `died: ${why}`)]);
    t.false(outcome.startsWith('died'), outcome);
    const [big, stats] = outcome.split(' ') as [string, string];
    t.is(big, String(4 * MiB), 'a 4 MiB message was delivered');
    const mem = JSON.parse(stats) as { usedBytes: number; capBytes: number; peakBytes: number };
    t.true(mem.peakBytes <= CAP_BYTES, `peak ${mem.peakBytes} bytes`);
    t.is(child.exitCode, null);
    t.is(child.signalCode, null);
  },
);
