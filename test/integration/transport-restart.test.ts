import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { Endpoint } from '../../src/transport/endpoint.js';
import type { Peer, PeerStateChange } from '../../src/transport/types.js';

const CHILD = fileURLToPath(new URL('./transport-restart-child.ts', import.meta.url));
const FAST = 'heartbeatStartMs=100,heartbeatIntervalMs=100,heartbeatTimeoutMs=400';

async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function startChild(
  survivorPort: number,
  ownPort: number,
  tag: string,
  children: ChildProcess[],
): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, String(survivorPort), String(ownPort), tag, FAST],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`child ${tag} exited early with ${code}`)));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      if (d.includes('connected')) resolve(child);
    });
  });
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

function waitFor<T>(what: string, poll: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const v = poll();
      if (v !== undefined) return resolve(v);
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(check, 10);
    };
    check();
  });
}

interface Harness {
  survivor: Endpoint;
  changes: PeerStateChange[];
  /** Indices received per tag, in arrival order. */
  received: Map<string, number[]>;
  children: ChildProcess[];
}

async function harness(t: import('ava').ExecutionContext, config = FAST): Promise<Harness> {
  const survivor = await Endpoint.create({ secret: 'restart-test', impair: null, config });
  const h: Harness = { survivor, changes: [], received: new Map(), children: [] };
  t.teardown(async () => {
    for (const c of h.children) await kill(c);
    await survivor.close();
  });
  survivor.onPeerState((c) => h.changes.push(c));
  survivor.onMessage((m) => {
    const [tag, index] = m.payload.toString().split(':');
    const list = h.received.get(tag!) ?? [];
    list.push(Number(index));
    h.received.set(tag!, list);
  });
  return h;
}

function assertExactlyOnceInOrder(
  t: import('ava').ExecutionContext,
  list: number[] | undefined,
  tag: string,
): void {
  t.truthy(list && list.length > 0, `${tag} delivered something`);
  for (let i = 0; i < list!.length; i++) {
    if (list![i] !== i)
      return void t.fail(`${tag}: message ${i} is ${list![i]} (duplicate, gap or reordering)`);
  }
  t.pass();
}

test.serial(
  'a killed peer is declared dead; its restart on the same address gets a fresh session; nothing twice',
  async (t) => {
    const h = await harness(t);
    const port = await freePort();
    const first = await startChild(h.survivor.address.port, port, 'one', h.children);
    await waitFor('first messages', () => ((h.received.get('one')?.length ?? 0) > 200 ? true : undefined));
    const firstPeer = h.survivor.peers()[0]!;
    const peer: Peer = h.changes.find((c) => c.state === 'connected')!.peer;
    await kill(first);
    const pending = h.survivor.send(peer, Buffer.from('to the dead'));
    const death = await waitFor('death', () => h.changes.find((c) => c.state === 'dead'));
    t.is(death.reason, 'PEER_DEAD');
    t.is(death.peer, peer);
    await t.throwsAsync(pending.delivered, { code: 'PEER_DEAD' } as never);

    await startChild(h.survivor.address.port, port, 'two', h.children);
    await waitFor('second messages', () => ((h.received.get('two')?.length ?? 0) > 200 ? true : undefined));
    const [second] = h.survivor.peers();
    t.is(second!.state, 'connected');
    t.not(second!.remoteConnectionId, firstPeer.remoteConnectionId);
    t.true(second!.remoteIncarnation > firstPeer.remoteIncarnation, 'the new incarnation is recognised');
    const newPeer = h.changes.filter((c) => c.state === 'connected')[1]!.peer;
    t.not(newPeer, peer, 'a new session is a new Peer handle');
    assertExactlyOnceInOrder(t, h.received.get('one'), 'one');
    assertExactlyOnceInOrder(t, h.received.get('two'), 'two');
    t.deepEqual([...h.received.keys()].sort(), ['one', 'two']);
  },
);

test.serial(
  'a peer restarted before it was declared dead resets its old session; nothing twice',
  async (t) => {
    // a death timeout far longer than a child's start-up, so only the restart can end the old session
    const h = await harness(t, 'heartbeatStartMs=100,heartbeatIntervalMs=100,heartbeatTimeoutMs=60s');
    const port = await freePort();
    const first = await startChild(h.survivor.address.port, port, 'one', h.children);
    await waitFor('first messages', () => ((h.received.get('one')?.length ?? 0) > 200 ? true : undefined));
    await kill(first);
    await startChild(h.survivor.address.port, port, 'two', h.children);
    const reset = await waitFor('reset', () =>
      h.changes.find((c) => c.state === 'reset' || c.state === 'dead'),
    );
    t.is(reset.state, 'reset', 'the restart is recognised, not waited out');
    t.is(reset.reason, 'PEER_RESET');
    await waitFor('second messages', () => ((h.received.get('two')?.length ?? 0) > 200 ? true : undefined));
    assertExactlyOnceInOrder(t, h.received.get('one'), 'one');
    assertExactlyOnceInOrder(t, h.received.get('two'), 'two');
  },
);

test.serial(
  'a peer that forgot the session answers its heartbeat with a reset, never a silent new session',
  async (t) => {
    const h = await harness(t, 'heartbeatStartMs=100,heartbeatIntervalMs=100,heartbeatTimeoutMs=60s');
    const port = await freePort();
    const first = await startChild(h.survivor.address.port, port, 'one', h.children);
    await waitFor('first messages', () => ((h.received.get('one')?.length ?? 0) > 50 ? true : undefined));
    await kill(first);
    await startChild(h.survivor.address.port, port, 'listen', h.children);
    const reset = await waitFor('reset', () => h.changes.find((c) => c.state !== 'connected'));
    t.is(reset.state, 'reset');
    t.is(reset.reason, 'PEER_RESET');
    t.deepEqual(h.survivor.peers(), [], "no session was re-created behind anyone's back");
    assertExactlyOnceInOrder(t, h.received.get('one'), 'one');
  },
);
