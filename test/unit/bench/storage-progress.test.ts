/** The live progress line: drawn only on a terminal, with the job, elapsed time and current rate. */
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { startProgress } from '../../../bench/storage/progress.js';

async function ticksOf(
  tty: boolean,
  live: { bytes: number; ops: number },
  grow: () => void,
): Promise<string[]> {
  const out: string[] = [];
  const line = startProgress({ tty, write: (s) => out.push(s) }, 'randread-4k remote', live);
  // Long enough for at least one 250 ms tick; the counters move meanwhile.
  for (let i = 0; i < 8; i++) {
    grow();
    await sleep(50);
  }
  line.stop();
  return out;
}

test('on a terminal: job, target, elapsed seconds and the rate, then the line is cleared', async (t) => {
  const live = { bytes: 0, ops: 0 };
  const out = await ticksOf(true, live, () => {
    live.bytes += 4_000_000;
    live.ops += 1000;
  });
  const drawn = out.filter((s) => s.includes('randread-4k remote'));
  t.true(drawn.length >= 1);
  t.regex(drawn[0]!, /^\r\x1b\[Krandread-4k remote {2}\d+\.\d s {2}\d+\.\d MB\/s$/); // eslint-disable-line no-control-regex
  t.is(out[out.length - 1], '\r\x1b[K');
});

test('metadata jobs show operations per second; off a terminal nothing is drawn', async (t) => {
  const live = { bytes: 0, ops: 0 };
  const out = await ticksOf(true, live, () => (live.ops += 100));
  t.regex(
    out.find((s) => s.includes('remote'))!,
    /ops\/s$/,
  );
  t.deepEqual(await ticksOf(false, live, () => (live.ops += 100)), []);
});
