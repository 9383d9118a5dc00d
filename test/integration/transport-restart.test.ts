/**
 * Peer death and restart with real processes, over either transport: a killed peer is declared dead
 * and its restart on the same address gets a fresh session with a newer incarnation; a stopped one
 * (alive but silent) is declared dead by the heartbeat timeout; nothing is delivered twice or out of
 * order. Then what only UDP can show: there a killed peer leaves no trace but silence, so a restart
 * can come before the death is noticed, and a peer can come back having forgotten the session.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Peer, PeerStateChange, TransportKind } from '../../src/index.js';
import { freePort, openEndpoint, TRANSPORTS, waitFor, type AnyEndpoint } from '../helpers/transport.js';

const CHILD = fileURLToPath(new URL('./transport-restart-child.ts', import.meta.url));
const FAST = 'heartbeatStartMs=100,heartbeatIntervalMs=100,heartbeatTimeoutMs=400';
/** A death timeout far longer than a child's start-up, so only a restart can end the old session. */
const SLOW_DEATH = 'heartbeatStartMs=100,heartbeatIntervalMs=100,heartbeatTimeoutMs=60s';

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

interface Harness {
  transport: TransportKind;
  survivor: AnyEndpoint;
  changes: PeerStateChange[];
  /** Indices received per tag, in arrival order. */
  received: Map<string, number[]>;
  /** Starts a child that binds `ownPort`, connects to the survivor and sends `tag:i` (or only listens). */
  start(ownPort: number, tag: string): Promise<ChildProcess>;
}

async function harness(t: ExecutionContext, transport: TransportKind, config = FAST): Promise<Harness> {
  const survivor = await openEndpoint(t, transport, { secret: 'restart-test', config });
  const children: ChildProcess[] = [];
  // registered after the survivor's: teardowns run last-first, so the children die before it closes
  t.teardown(async () => {
    for (const c of children) await kill(c);
  });
  const h: Harness = {
    transport,
    survivor,
    changes: [],
    received: new Map(),
    start: (ownPort, tag) => {
      const args = [transport, String(survivor.address.port), String(ownPort), tag, config];
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      return new Promise((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code) => reject(new Error(`child ${tag} exited early with ${code}`)));
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          if (d.includes('connected')) resolve(child);
        });
      });
    },
  };
  survivor.onPeerState((c) => h.changes.push(c));
  survivor.onMessage((m) => {
    const [tag, index] = m.payload.toString().split(':');
    const list = h.received.get(tag!) ?? [];
    list.push(Number(index));
    h.received.set(tag!, list);
  });
  return h;
}

const count = (h: Harness, tag: string): number => h.received.get(tag)?.length ?? 0;

function assertExactlyOnceInOrder(t: ExecutionContext, list: number[] | undefined, tag: string): void {
  t.truthy(list && list.length > 0, `${tag} delivered something`);
  for (let i = 0; i < list!.length; i++) {
    if (list![i] !== i)
      return void t.fail(`${tag}: message ${i} is ${list![i]} (duplicate, gap or reordering)`);
  }
  t.pass();
}

for (const transport of TRANSPORTS) {
  test.serial(
    `${transport}: a killed peer is declared dead; its restart on the same address gets a fresh session; nothing twice`,
    async (t) => {
      const h = await harness(t, transport);
      const port = await freePort(transport);
      const first = await h.start(port, 'one');
      await waitFor('first messages', () => (count(h, 'one') > 200 ? true : undefined));
      const firstPeer = h.survivor.peers()[0]!;
      t.is(firstPeer.id, `127.0.0.1:${port}`, 'the child is named by its listening address');
      const peer: Peer = h.changes.find((c) => c.state === 'connected')!.peer;
      let pending;
      if (transport === 'udp') {
        // over UDP only silence tells of the kill: a message sent after it waits for the death
        await kill(first);
        pending = h.survivor.send(peer, Buffer.from('to the dead'));
      } else {
        // over TCP the kernel closes the dead child's connection at once, so a message sent after
        // the kill may already be refused: send it before, and accept either outcome below
        pending = h.survivor.trySend(peer, Buffer.from('to the dead'));
        await kill(first);
      }
      const death = await waitFor('death', () => h.changes.find((c) => c.state === 'dead'));
      t.is(death.reason, 'PEER_DEAD');
      t.is(death.peer, peer);
      if (transport === 'udp') {
        await t.throwsAsync((pending as Exclude<typeof pending, string>).delivered, {
          code: 'PEER_DEAD',
        } as never);
      } else if (typeof pending !== 'string') {
        // delivered before the kill, or failed with the session: never left hanging
        const outcome = await pending.delivered.then(
          () => 'delivered',
          (e: { code: string }) => e.code,
        );
        t.true(outcome === 'delivered' || outcome === 'PEER_DEAD', outcome);
      }
      t.is(h.survivor.trySend(peer, Buffer.from('x')), 'NOT_CONNECTED');

      await h.start(port, 'two');
      await waitFor('second messages', () => (count(h, 'two') > 200 ? true : undefined));
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
    `${transport}: a stopped peer (alive, silent) is declared dead by the heartbeat timeout`,
    async (t) => {
      const h = await harness(t, transport);
      const port = await freePort(transport);
      const child = await h.start(port, 'one');
      await waitFor('messages', () => (count(h, 'one') > 50 ? true : undefined));
      child.kill('SIGSTOP');
      t.teardown(() => void child.kill('SIGCONT'));
      const death = await waitFor('death', () => h.changes.find((c) => c.state !== 'connected'), 10_000);
      t.is(death.state, 'dead');
      t.is(death.reason, 'PEER_DEAD');
      t.deepEqual(h.survivor.peers(), []);
      assertExactlyOnceInOrder(t, h.received.get('one'), 'one');
    },
  );
}

// Over TCP a killed peer's connection closes at once, so these two situations cannot arise there.

test.serial(
  'udp: a peer restarted before it was declared dead resets its old session; nothing twice',
  async (t) => {
    const h = await harness(t, 'udp', SLOW_DEATH);
    const port = await freePort('udp');
    const first = await h.start(port, 'one');
    await waitFor('first messages', () => (count(h, 'one') > 200 ? true : undefined));
    await kill(first);
    await h.start(port, 'two');
    const reset = await waitFor('reset', () =>
      h.changes.find((c) => c.state === 'reset' || c.state === 'dead'),
    );
    t.is(reset.state, 'reset', 'the restart is recognised, not waited out');
    t.is(reset.reason, 'PEER_RESET');
    await waitFor('second messages', () => (count(h, 'two') > 200 ? true : undefined));
    assertExactlyOnceInOrder(t, h.received.get('one'), 'one');
    assertExactlyOnceInOrder(t, h.received.get('two'), 'two');
  },
);

test.serial(
  'udp: a peer that forgot the session answers its heartbeat with a reset, never a silent new session',
  async (t) => {
    const h = await harness(t, 'udp', SLOW_DEATH);
    const port = await freePort('udp');
    const first = await h.start(port, 'one');
    await waitFor('first messages', () => (count(h, 'one') > 50 ? true : undefined));
    await kill(first);
    await h.start(port, 'listen');
    const reset = await waitFor('reset', () => h.changes.find((c) => c.state !== 'connected'));
    t.is(reset.state, 'reset');
    t.is(reset.reason, 'PEER_RESET');
    t.deepEqual(h.survivor.peers(), [], "no session was re-created behind anyone's back");
    assertExactlyOnceInOrder(t, h.received.get('one'), 'one');
  },
);
