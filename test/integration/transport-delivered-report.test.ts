/**
 * The sender skipped a delivered report whose (deliveredBelow, last range end + range count)
 * equals the previous one's, but two different range sets share that signature: a message delivered
 * inside a gap ([2,3) [5,6) -> [2,4) [5,6)) was then never noticed while the ends stay put, and its
 * `delivered` promise waited although the peer's application handled it.
 */
import test from 'ava';
import { openEndpoint, TRANSPORTS } from '../helpers/transport.js';

// The bug was UDP's, but the promise is the contract's: TCP's delivered reports are held to it too.
for (const transport of TRANSPORTS) {
  test(`${transport}: a message handled inside a gap of delivered ranges resolves \`delivered\``, async (t) => {
    t.timeout(20_000);
    const config = 'packetBytes=1452,pmtuProbe=false';
    const receiver = await openEndpoint(t, transport, { config });
    const sender = await openEndpoint(t, transport, { config });
    const release = new Map<number, () => void>();
    // registered last, so it runs first: handlers still waiting finish before the endpoints close
    t.teardown(() => {
      for (const r of release.values()) r();
    });
    receiver.onMessage(
      (m) => new Promise<void>((resolve) => void release.set(m.payload.readUInt32BE(0), resolve)),
    );
    const peer = await sender.connect(receiver.address);
    const handles = [];
    for (let i = 1; i <= 6; i++) {
      const b = Buffer.alloc(16);
      b.writeUInt32BE(i, 0);
      handles.push(sender.send(peer, b)); // unordered: every handler starts at once
    }
    const done = new Set<number>();
    handles.forEach(
      (h, i) =>
        void h.delivered.then(
          () => done.add(i + 1),
          () => undefined,
        ),
    );
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    for (let i = 0; i < 100 && release.size < 6; i++) await sleep(10);
    t.is(release.size, 6, 'every handler started');
    // 1 stays in its handler; 2 and 5 finish: ranges [2,3) [5,6)
    release.get(2)!();
    await sleep(150);
    release.get(5)!();
    await sleep(150);
    t.deepEqual([...done].sort(), [2, 5]);
    // 3 finishes: ranges [2,4) [5,6) - same below, same last end, same count
    release.get(3)!();
    for (let i = 0; i < 150 && !done.has(3); i++) await sleep(10);
    t.true(done.has(3), 'message 3 was handled by the peer 1.5 s ago, its `delivered` never resolved');
  });
}
