/**
 * `ferry bench transport` options: defaults, lists, units, and refusals that name the flag and
 * what to type; and the plan they give (every workload and implementation once in a smoke run).
 */
import test from 'ava';
import { isFerryError } from '../../../src/index.js';
import { parseTransportOptions } from '../../../bench/transport/options.js';
import { planRuns } from '../../../bench/transport/plan.js';

test('defaults: every implementation and workload, 5 s runs, 1452-byte packets', (t) => {
  const o = parseTransportOptions({});
  t.deepEqual(o.impls, ['dgram', 'tcp', 'udx', 'ferry']);
  t.deepEqual(o.workloads, ['oneway', 'rr', 'bidi', 'n1', 'nn', 'curve', 'jumbo']);
  t.is(o.sizes, null);
  t.is(o.durationMs, 5000);
  t.is(o.packetSizeBytes, 1452);
  t.false(o.lossMatrix);
});

test('lists, units and durations are read as typed', (t) => {
  const o = parseTransportOptions({
    impl: 'ferry, udx',
    workload: 'oneway',
    size: '64,16KiB,1MiB',
    duration: '250ms',
    packetSize: '8800',
  });
  t.deepEqual(o.impls, ['ferry', 'udx']);
  t.deepEqual(o.workloads, ['oneway']);
  t.deepEqual(o.sizes, [64, 16 * 1024, 1024 * 1024]);
  t.is(o.durationMs, 250);
  t.is(o.packetSizeBytes, 8800);
  t.is(parseTransportOptions({ duration: '2' }).durationMs, 2000);
});

test('bad values are INVALID_ARGUMENT naming the flag', (t) => {
  const cases: [Parameters<typeof parseTransportOptions>[0], RegExp][] = [
    [{ impl: 'quic' }, /--impl.*quic/],
    [{ workload: 'oneway,zz' }, /--workload.*zz/],
    [{ size: '8' }, /--size/],
    [{ size: '1GiB' }, /--size/],
    [{ duration: '0' }, /--duration/],
    [{ duration: 'soon' }, /--duration/],
    [{ packetSize: '100' }, /--packet-size/],
    [{ packetSize: '70000' }, /--packet-size/],
  ];
  for (const [raw, message] of cases) {
    const err = t.throws(() => parseTransportOptions(raw), { message });
    t.true(isFerryError(err, 'INVALID_ARGUMENT'), JSON.stringify(raw));
  }
});

test('a smoke plan runs every workload for every implementation, and the loss matrix for ferry and udx', (t) => {
  const runs = planRuns(parseTransportOptions({ smoke: true, lossMatrix: true })).map((r) => r.scenario);
  for (const impl of ['dgram', 'tcp', 'udx', 'ferry']) {
    for (const w of ['oneway', 'rr', 'bidi', 'n1', 'nn', 'curve']) {
      t.true(
        runs.some((s) => s.impl === impl && s.workload === w),
        `${w} ${impl}`,
      );
    }
  }
  const loss = runs.filter((s) => s.workload === 'loss');
  t.true(loss.length > 0);
  t.deepEqual([...new Set(loss.map((s) => s.impl))].sort(), ['ferry', 'udx']);
  for (const s of loss) {
    // ferry impairs its receiver's endpoint; udx goes through an impairment proxy in front of it.
    const spec = s.impl === 'ferry' ? s.impair[0]! : s.proxyImpair;
    t.regex(spec, /^loss=[\d.]+,delayMs=10,seed=1$/);
    t.is(s.impair[1], '');
    if (s.impl === 'udx') t.deepEqual(s.impair, ['', '']);
  }
  const n1 = runs.find((s) => s.workload === 'n1')!;
  t.is(n1.nodes.length, 9);
  t.true(n1.nodes.slice(1).every((n) => n.role === 'stream' && n.sendTo.join() === '0'));
  const nn = runs.find((s) => s.workload === 'nn')!;
  t.true(nn.nodes.every((n) => n.sendTo.length === nn.nodes.length - 1 && !n.sendTo.includes(n.node)));
});

test('--bytes streams a fixed amount one way: 1 MiB messages, bounded by a long default duration', (t) => {
  const o = parseTransportOptions({ impl: 'ferry', workload: 'oneway', bytes: '10GiB' });
  t.is(o.streamBytes, 10 * 1024 ** 3);
  t.deepEqual(o.sizes, [1024 * 1024], 'the bulk size unless --size says otherwise');
  t.is(o.durationMs, 900_000, 'stops by itself within 15 minutes');
  const custom = parseTransportOptions({
    workload: 'oneway',
    bytes: '512MiB',
    size: '64KiB',
    duration: '60',
  });
  t.is(custom.streamBytes, 512 * 1024 * 1024);
  t.deepEqual(custom.sizes, [64 * 1024]);
  t.is(custom.durationMs, 60_000);
  t.is(parseTransportOptions({ workload: 'oneway' }).streamBytes, null, 'off by default');
  const [run] = planRuns(
    parseTransportOptions({ impl: 'ferry', workload: 'oneway', bytes: '3MiB', size: '1MiB' }),
  );
  t.truthy(run);
  t.is(run!.scenario.streamBytes, 3 * 1024 * 1024);
  t.is(run!.scenario.variant, `bytes=${3 * 1024 * 1024}`);
  const sender = run!.scenario.nodes.find((n) => n.role === 'stream');
  t.is(sender?.maxMessages, 3, 'whole messages up to the amount');
  const [uneven] = planRuns(
    parseTransportOptions({ workload: 'oneway', impl: 'ferry', bytes: '2500KiB', size: '1MiB' }),
  );
  t.is(
    uneven!.scenario.nodes.find((n) => n.role === 'stream')?.maxMessages,
    3,
    'rounded up to a whole message',
  );
});

test('--bytes refuses amounts it cannot stream and workloads it does not apply to, naming the fix', (t) => {
  const cases: [Parameters<typeof parseTransportOptions>[0], RegExp][] = [
    [{ workload: 'oneway', bytes: '0' }, /--bytes.*"0"/],
    [{ workload: 'oneway', bytes: 'lots' }, /--bytes.*lots/],
    [{ workload: 'oneway', bytes: '2TiB' }, /--bytes/],
    [{ bytes: '1GiB' }, /--workload oneway alone/],
    [{ workload: 'oneway,n1', bytes: '1GiB' }, /--workload oneway alone/],
    [{ workload: 'oneway', bytes: '1GiB', lossMatrix: true }, /--loss-matrix/],
    [{ workload: 'oneway', bytes: '1GiB', smoke: true }, /--smoke/],
  ];
  for (const [raw, message] of cases) {
    const e = t.throws(() => parseTransportOptions(raw));
    t.true(isFerryError(e) && e.code === 'INVALID_ARGUMENT', JSON.stringify(raw));
    t.regex(e?.message ?? '', message);
  }
});
