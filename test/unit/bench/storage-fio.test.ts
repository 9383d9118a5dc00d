/** The fio baseline: the arguments mirror the job, and fio's JSON is read into fio's own field names. */
import test from 'ava';
import { fioArgs, fioMetaArgs, parseFioJson } from '../../../bench/storage/fio.js';
import { DATA_JOBS } from '../../../bench/storage/jobs.js';

const mix = DATA_JOBS.find((j) => j.name === 'randrw-16k')!;
const signal = new AbortController().signal;

test('fio arguments: same job shape, its own directory, time-based, JSON out', (t) => {
  const args = fioArgs(
    {
      job: mix,
      engine: 'libaio',
      iodepth: 8,
      numjobs: 2,
      regionBytes: 1 << 20,
      runtimeMs: 1500,
      memory: false,
      signal,
    },
    '/tmp/x',
  );
  for (const a of [
    '--name=randrw-16k',
    '--directory=/tmp/x',
    '--rw=randrw',
    '--bs=16384',
    '--size=1048576',
    '--numjobs=2',
    '--iodepth=8',
    '--ioengine=libaio',
    '--runtime=1500ms',
    '--time_based',
    '--group_reporting',
    '--output-format=json',
    '--rwmixread=70',
  ])
    t.true(args.includes(a), a);
});

test('fio JSON (with a notice before it) becomes a JobResult with both directions', (t) => {
  const dir = (ioBytes: number, ios: number, p99: number): object => ({
    io_bytes: ioBytes,
    bw_bytes: ioBytes / 2,
    iops: ios / 2,
    total_ios: ios,
    runtime: 2000,
    clat_ns: {
      min: 100,
      max: 9000,
      mean: 500,
      percentile: { '50.000000': 400, '90.000000': 800, '99.000000': p99, '99.900000': p99 * 2 },
    },
  });
  const text =
    'fio: some notice\n' +
    JSON.stringify({
      jobs: [{ read: dir(7 * 16384, 7, 1000), write: dir(3 * 16384, 3, 3000), usr_cpu: 10, sys_cpu: 30 }],
    });
  const r = parseFioJson(text, { job: mix, iodepth: 8, numjobs: 2 });
  t.is(r.target, 'fio');
  t.is(r.io_bytes, 10 * 16384);
  t.is(r.bw_bytes, (10 * 16384) / 2);
  t.is(r.iops, 5);
  t.is(r.read.total_ios, 7);
  t.is(r.write.clat_ns.percentile['99.000000'], 3000);
  t.is(r.clat_ns.percentile['99.000000'], 1000, 'the busier direction gives the job latency');
  t.is(r.cpu_user_s, 0.1 * 2 * 2);
  t.is(r.peak_rss_bytes, null);
  t.throws(() => parseFioJson('fio: error', { job: mix, iodepth: 1, numjobs: 1 }), { message: /no JSON/ });
});

test('fio metadata phases use its file engines under one job name, so stat and delete find the created files', (t) => {
  const base = { name: 'x', files: 500, iodepth: 16, dir: '/tmp/m', signal };
  const create = fioMetaArgs({ ...base, op: 'create' });
  const stat = fioMetaArgs({ ...base, op: 'stat' });
  const del = fioMetaArgs({ ...base, op: 'delete' });
  t.true(create.includes('--ioengine=filecreate') && create.includes('--create_on_open=1'));
  t.true(stat.includes('--ioengine=filestat'));
  t.true(del.includes('--ioengine=filedelete'));
  for (const a of [create, stat, del]) {
    t.true(a.includes('--nrfiles=500') && a.includes('--directory=/tmp/m'));
    t.is(
      a.find((x) => x.startsWith('--name=')),
      '--name=ferry-meta',
    );
  }
});
