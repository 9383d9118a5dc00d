/** Options of `ferry bench wan`: presets, custom paths, units, and every bound refused by name. */
import test from 'ava';
import { isFerryError } from '../../../src/index.js';
import {
  defaultQueueBytes,
  MIN_QUEUE_BYTES,
  parseLoss,
  parseMs,
  parseMtu,
  parseRateMbit,
  parseWanOptions,
  transferTimeoutMs,
} from '../../../bench/wan/options.js';
import { rawWanOptions } from '../../../bench/wan/args.js';

test('defaults: the four presets of BASELINES.md, 256 MiB, every tool, seed 1', (t) => {
  const o = parseWanOptions({});
  t.deepEqual(
    o.paths.map((p) => [p.name, p.rateMbit, p.delayMs, p.loss, p.mtu]),
    [
      ['lan', 1000, 1, 0, 1500],
      ['wan50', 500, 25, 0, 1500],
      ['lossy50', 200, 25, 0.01, 1500],
      ['lossy100', 100, 50, 0.05, 1500],
    ],
  );
  t.is(o.sizeBytes, 256 * 1024 * 1024);
  t.deepEqual(o.tools, ['ferry', 'rsync', 'tcp']);
  t.is(o.timeoutMs, null);
  t.is(o.seed, 1);
});

test('queue: one BDP at the RTT, never below 256 KiB', (t) => {
  t.is(defaultQueueBytes(1000, 1), MIN_QUEUE_BYTES); // 250 kB BDP
  t.is(defaultQueueBytes(500, 25), 3_125_000);
  t.is(defaultQueueBytes(100, 50), 1_250_000);
  t.is(parseWanOptions({ paths: 'wan50' }).paths[0]!.queueBytes, 3_125_000);
});

test('custom flags alone make one path named custom, from lan', (t) => {
  const o = parseWanOptions({ rate: '300mbit', delay: '40ms', loss: '0.5%', jitter: '2ms' });
  t.is(o.paths.length, 1);
  const p = o.paths[0]!;
  t.is(p.name, 'custom');
  t.is(p.rateMbit, 300);
  t.is(p.delayMs, 40);
  t.is(p.loss, 0.005);
  t.is(p.jitterMs, 2);
  t.is(p.mtu, 1500);
  t.is(p.queueBytes, defaultQueueBytes(300, 40));
});

test('custom flags override every selected preset, and the name says so', (t) => {
  const o = parseWanOptions({ paths: 'lan,wan50', mtu: '9000', queue: '4MiB' });
  t.deepEqual(
    o.paths.map((p) => [p.name, p.mtu, p.queueBytes, p.rateMbit]),
    [
      ['lan+mtu=9000,queueBytes=4194304', 9000, 4194304, 1000],
      ['wan50+mtu=9000,queueBytes=4194304', 9000, 4194304, 500],
    ],
  );
});

test('lists: duplicates dropped, unknown names refused with the allowed ones', (t) => {
  t.deepEqual(parseWanOptions({ tools: 'rsync,ferry,rsync' }).tools, ['rsync', 'ferry']);
  const e = t.throws(() => parseWanOptions({ paths: 'lan,moon' }));
  t.true(isFerryError(e));
  t.regex(e.message, /--paths: unknown value "moon".*lan, wan50, lossy50, lossy100, custom/);
  t.throws(() => parseWanOptions({ tools: 'ferry,scp' }), { message: /--tools/ });
  t.throws(() => parseWanOptions({ tools: ',' }), { message: /--tools/ });
});

test('rate units: kbit, mbit, gbit, bare Mbit/s; bounds', (t) => {
  t.is(parseRateMbit('500mbit'), 500);
  t.is(parseRateMbit('1gbit'), 1000);
  t.is(parseRateMbit('1.5Gbit/s'), 1500);
  t.is(parseRateMbit('800kbit'), 0.8);
  t.is(parseRateMbit('100'), 100);
  t.is(parseRateMbit('100M'), 100);
  for (const bad of ['0', '-5', 'fast', '20gbit', ''])
    t.throws(() => parseRateMbit(bad), { message: /--rate/ });
});

test('delay units: us, ms, s, bare ms; bounds', (t) => {
  t.is(parseMs('25ms', '--delay'), 25);
  t.is(parseMs('500us', '--delay'), 0.5);
  t.is(parseMs('0.1s', '--delay'), 100);
  t.is(parseMs('3', '--jitter'), 3);
  t.is(parseMs('0', '--delay'), 0);
  for (const bad of ['-1', '3s', 'soon', '5m'])
    t.throws(() => parseMs(bad, '--delay'), { message: /--delay/ });
});

test('loss: percent or fraction, below 100 %', (t) => {
  t.is(parseLoss('1%'), 0.01);
  t.is(parseLoss('0.05'), 0.05);
  t.is(parseLoss('0'), 0);
  for (const bad of ['100%', '1', '1.5', '-1%', 'some'])
    t.throws(() => parseLoss(bad), { message: /--loss/ });
});

test('mtu, queue, size, timeout, seed bounds', (t) => {
  t.is(parseMtu('9000'), 9000);
  for (const bad of ['1000', '9001', '1500.5', 'jumbo']) t.throws(() => parseMtu(bad), { message: /--mtu/ });
  t.throws(() => parseWanOptions({ queue: '1KiB' }), { message: /--queue/ });
  t.throws(() => parseWanOptions({ size: '0' }), { message: /--size/ });
  t.throws(() => parseWanOptions({ size: '100GiB' }), { message: /--size/ });
  t.is(parseWanOptions({ size: '1GiB' }).sizeBytes, 1024 ** 3);
  t.is(parseWanOptions({ timeout: '90' }).timeoutMs, 90_000);
  t.throws(() => parseWanOptions({ timeout: '0' }), { message: /--timeout/ });
  t.throws(() => parseWanOptions({ timeout: '5m' }), { message: /--timeout/ });
  t.is(parseWanOptions({ seed: '7' }).seed, 7);
  t.throws(() => parseWanOptions({ seed: '-1' }), { message: /--seed/ });
});

test('timeout per copy: --timeout, else 60 s + 10x the ideal time at the line rate', (t) => {
  const o = parseWanOptions({ paths: 'lossy100' });
  // 256 MiB at 12.5 MB/s: 21.47 s ideal
  t.is(transferTimeoutMs(o, o.paths[0]!), Math.round(60_000 + 10 * ((256 * 1024 * 1024) / 12.5e6) * 1000));
  const fixed = parseWanOptions({ paths: 'lan', timeout: '30' });
  t.is(transferTimeoutMs(fixed, fixed.paths[0]!), 30_000);
});

test('rawWanOptions keeps only the flags that were given, as strings', (t) => {
  t.deepEqual(rawWanOptions({ paths: 'lan', json: true }), { paths: 'lan' });
  t.deepEqual(rawWanOptions({ json: false, mtu: 9000 as unknown as string }), { mtu: '9000' });
});
