/**
 * CI smoke of `ferry bench blockdev` and `ferry bench fs`: every backend for a fraction of a second
 * per job, the JSON checked against the report schema and for sane, self-consistent numbers
 * (non-zero; bw_bytes x seconds = bytes; ops x bs = bytes; percentiles in order), the remote column
 * measured through a real in-process server, fio in its own temp folder, --remote against a server
 * this test runs, bad usage refused with exit 2, and Ctrl-C still printing what was measured.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateSecret } from '../../cli/secret.js';
import { FerryServer, MemoryBlockDevice } from '../../src/index.js';
import { validateStorageReport, type JobResult, type StorageBenchReport } from '../../bench/storage/index.js';
import { REPO_ROOT, runFerry, spawnFerry } from '../helpers/cli.js';

const TIMEOUT_MS = 60_000;

async function bench(t: ExecutionContext, args: string[]): Promise<StorageBenchReport> {
  const r = await runFerry(['bench', ...args, '--json'], { timeoutMs: TIMEOUT_MS });
  t.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as StorageBenchReport;
  t.deepEqual(validateStorageReport(report), [], 'the report matches bench/storage/schema.json');
  return report;
}

function close(a: number, b: number, share: number): boolean {
  return Math.abs(a - b) <= share * Math.max(Math.abs(a), Math.abs(b));
}

/** The arithmetic every ok data result must satisfy. */
function checkSane(t: ExecutionContext, r: JobResult): void {
  const what = `${r.job} ${r.target}`;
  t.is(r.status, 'ok', `${what}: ${r.reason ?? ''}`);
  t.true(r.runtime > 0, `${what}: runtime`);
  t.true(r.iops > 0, `${what}: iops`);
  t.true(r.clat_ns.count > 0, `${what}: latency samples`);
  const p = r.clat_ns.percentile;
  t.true(
    p['50.000000'] > 0 && p['50.000000'] <= p['99.000000'] && p['99.000000'] <= p['99.900000'],
    `${what}: percentiles in order`,
  );
  // fio reports its CPU share rounded: a short fio run may show none.
  if (r.target !== 'fio') t.true(r.cpu_user_s + r.cpu_sys_s > 0, `${what}: CPU seconds`);
  if (r.bs === 0) {
    t.is(r.files_per_s, r.iops, `${what}: files/s`);
    return;
  }
  t.true(r.bw_bytes > 0 && r.io_bytes > 0, `${what}: bandwidth`);
  t.true(close(r.bw_bytes * (r.runtime / 1000), r.io_bytes, 0.01), `${what}: bw_bytes x seconds = io_bytes`);
  t.is(r.read.io_bytes + r.write.io_bytes, r.io_bytes, `${what}: read + write = total`);
  t.is((r.read.total_ios + r.write.total_ios) * r.bs, r.io_bytes, `${what}: ops x bs = bytes`);
  if (r.target !== 'fio') t.true(r.peak_rss_bytes !== null && r.peak_rss_bytes > 0, `${what}: peak RSS`);
  const reads = r.job.startsWith('seqread') || r.job.startsWith('randread');
  const writes = r.job.startsWith('seqwrite') || r.job.startsWith('randwrite');
  if (reads) t.is(r.write.io_bytes, 0, `${what}: a read job only reads`);
  if (writes) t.is(r.read.io_bytes, 0, `${what}: a write job only writes`);
  if (r.job.startsWith('randrw'))
    t.true(r.read.io_bytes > 0 && r.write.io_bytes > 0, `${what}: a mix does both`);
}

function byKey(report: StorageBenchReport, job: string, target: string): JobResult {
  const r = report.results.find((x) => x.job === job && x.target === target);
  if (!r) throw new Error(`no result for ${job} ${target}`);
  return r;
}

test.serial(
  'bench blockdev --backend memory: every job on local, remote and fio, with ratios and a load curve',
  async (t) => {
    const rep = await bench(t, ['blockdev', '--backend', 'memory', '--smoke']);
    t.is(rep.kind, 'blockdev');
    t.deepEqual(rep.unavailable, {});
    t.false(rep.interrupted);
    const jobs = ['seqwrite-1m', 'seqread-1m', 'randwrite-4k', 'randread-4k', 'randrw-16k'];
    for (const job of jobs)
      for (const target of ['local', 'remote', 'fio']) checkSane(t, byKey(rep, job, target));
    t.is(byKey(rep, 'seqread-1m', 'local').bs, 1024 * 1024);
    t.is(byKey(rep, 'randread-4k', 'fio').bs, 4096);
    for (const q of rep.ratios) {
      t.true(q.remote_to_local !== null && q.remote_to_local > 0, `${q.job}: remote/local`);
      t.true(q.local_to_fio !== null && q.local_to_fio > 0, `${q.job}: local/fio`);
    }
    const rl = rep.ratios.find((q) => q.job === 'randread-4k')!;
    const expected =
      byKey(rep, 'randread-4k', 'remote').bw_bytes / byKey(rep, 'randread-4k', 'local').bw_bytes;
    t.true(close(rl.remote_to_local!, expected, 1e-9), 'the ratio is remote bandwidth over local bandwidth');
    t.deepEqual(
      rep.curves.map((c) => c.target),
      ['local', 'remote'],
    );
    for (const c of rep.curves) {
      t.deepEqual(
        c.points.map((p) => p.iodepth),
        [1, 2, 4, 8, 16, 32],
      );
      for (const p of c.points) t.true(p.iops > 0 && p.p99_ns >= p.p50_ns && p.p50_ns > 0);
    }
    t.is(rep.copies.length, 0, 'transfer-mode copies are a filesystem job');
  },
);

test.serial(
  'bench blockdev --backend file: numjobs and iodepth are honoured; fio runs in a temp folder, not the cwd',
  async (t) => {
    const fioFiles = (): string[] =>
      readdirSync(REPO_ROOT).filter((f) => f.endsWith('.state') || /^(seq|rand)\w*-\d+[mk]\./.test(f));
    const before = fioFiles();
    const rep = await bench(t, [
      'blockdev',
      '--backend',
      'file',
      '--smoke',
      '--jobs',
      '2',
      '--iodepth',
      '4',
      '--only',
      'seqwrite-1m,randread-4k',
      '--no-curve',
      '--fio-engine',
      'libaio',
    ]);
    t.deepEqual(rep.options.jobs, ['seqwrite-1m', 'randread-4k']);
    t.is(rep.options.fio_engine, 'libaio');
    for (const r of rep.results) {
      checkSane(t, r);
      t.is(r.numjobs, 2);
      t.is(r.iodepth, 4);
    }
    t.is(rep.results.length, 6);
    t.deepEqual(rep.curves, []);
    t.deepEqual(fioFiles(), before, 'fio left no working or state file in the cwd');
  },
);

test.serial(
  'bench fs --backend memory: data and metadata jobs (fio file engines too), and offset/append copies clean and impaired',
  async (t) => {
    const rep = await bench(t, [
      'fs',
      '--backend',
      'memory',
      '--smoke',
      '--no-curve',
      '--only',
      'randrw-16k,meta-create,meta-stat,meta-delete',
      // a 4 MiB copy is about 64 datagrams at loopback's 65,507-byte packets: 10 % loss makes one
      // lost (and resent) all but certain, which is what the impaired rows must show
      '--impair',
      'loss=0.1,seed=7',
    ]);
    for (const job of ['randrw-16k', 'meta-create', 'meta-stat', 'meta-delete'])
      for (const target of ['local', 'remote', 'fio']) checkSane(t, byKey(rep, job, target));
    const fioCreate = byKey(rep, 'meta-create', 'fio');
    t.is(fioCreate.read.total_ios + fioCreate.write.total_ios, 200, 'fio made --files files');
    t.is(
      byKey(rep, 'meta-create', 'local').clat_ns.count,
      byKey(rep, 'meta-delete', 'local').clat_ns.count,
      'delete removed what create made',
    );
    t.deepEqual(
      rep.copies.map((c) => [c.mode, c.impair !== null, c.status]),
      [
        ['local', false, 'ok'],
        ['offset', false, 'ok'],
        ['append', false, 'ok'],
        ['offset', true, 'ok'],
        ['append', true, 'ok'],
      ],
    );
    for (const c of rep.copies) {
      t.is(c.bytes, 4 * 1024 * 1024);
      t.true(c.bw_bytes > 0 && close(c.bw_bytes * c.seconds, c.bytes, 0.01));
    }
    t.true(
      rep.copies.filter((c) => c.impair !== null).every((c) => c.retransmits > 0),
      'the impaired copies did lose packets',
    );
  },
);

test.serial(
  'bench fs --backend dir --no-fio: a host folder; fio marked as turned off; the folder is left clean',
  async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-bench-test-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const rep = await bench(t, [
      'fs',
      '--backend',
      'dir',
      '--path',
      dir,
      '--smoke',
      '--no-fio',
      '--no-copies',
      '--no-curve',
      '--only',
      'seqread-1m,meta-create,meta-delete',
    ]);
    for (const job of ['seqread-1m', 'meta-create', 'meta-delete'])
      for (const target of ['local', 'remote']) checkSane(t, byKey(rep, job, target));
    t.is(rep.unavailable.fio, 'turned off with --no-fio');
    t.is(byKey(rep, 'seqread-1m', 'fio').status, 'skipped');
    t.is(rep.ratios.find((q) => q.job === 'seqread-1m')!.local_to_fio, null);
    t.deepEqual(readdirSync(dir), [], 'the run removed what it made in the --path folder');
  },
);

test.serial(
  'bench blockdev --remote: measures a server the user runs; a device it does not serve is reported, not fatal',
  async (t) => {
    const dev = new MemoryBlockDevice({ sizeBytes: 16 * 1024 * 1024 });
    // The server has a secret, as every `ferry serve` does: the bench dials with --secret-file.
    const secret = generateSecret();
    const secretDir = mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-secret-'));
    const secretFile = path.join(secretDir, 'secret');
    writeFileSync(secretFile, secret + '\n', { mode: 0o600 });
    const server = await FerryServer.start({
      host: '127.0.0.1',
      devices: { disk0: dev },
      discovery: false,
      impair: null,
      secret,
    });
    t.teardown(async () => {
      await server.close();
      await dev.close();
      rmSync(secretDir, { recursive: true, force: true });
    });
    const url = `ferry://127.0.0.1:${server.address.port}/disk0`;
    const rep = await bench(t, [
      'blockdev',
      '--remote',
      url,
      '--secret-file',
      secretFile,
      '--smoke',
      '--no-fio',
      '--no-curve',
      '--only',
      'randwrite-4k',
    ]);
    t.is(rep.options.remote, url);
    checkSane(t, byKey(rep, 'randwrite-4k', 'remote'));
    t.true(
      (await dev.extents(0, dev.sizeBytes)).some((e) => !e.hole),
      'the jobs wrote to the server device',
    );
    const missing = await bench(t, [
      'blockdev',
      '--remote',
      `ferry://127.0.0.1:${server.address.port}/nosuch`,
      '--secret-file',
      secretFile,
      '--smoke',
      '--no-fio',
      '--no-curve',
      '--only',
      'randread-4k',
    ]);
    t.regex(missing.unavailable.remote ?? '', /cannot reach|not|no /i);
    t.is(byKey(missing, 'randread-4k', 'remote').status, 'skipped');
    checkSane(t, byKey(missing, 'randread-4k', 'local'));
  },
);

test.serial('bench blockdev|fs: bad options are usage errors (exit 2) that say what to write', async (t) => {
  // Every option's check is unit-tested (test/unit/bench/storage-options.test.ts); here: the exit code.
  const cases: [string[], RegExp][] = [
    [['blockdev', '--backend', 'dir'], /--backend for blockdev must be memory or file/],
    [['fs', '--iodepth', '0'], /--iodepth must be a whole number in 1\.\.256/],
  ];
  for (const [args, message] of cases) {
    const r = await runFerry(['bench', ...args], { timeoutMs: TIMEOUT_MS });
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, message);
    t.is(r.stdout, '');
  }
});

test.serial('bench blockdev: Ctrl-C stops the run and still prints what was measured', async (t) => {
  const child = spawnFerry(['bench', 'blockdev', '--runtime', '2', '--size', '8MiB', '--no-fio', '--json']);
  t.teardown(() => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const started = new Promise<void>((resolve) => {
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (/seqwrite-1m local:/.test(stderr)) resolve();
    });
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  // The first job finished locally: its remote run (2 s) is under way now.
  await Promise.race([started, exited]);
  child.kill('SIGINT');
  const code = await exited;
  t.is(code, 1, 'an interrupted run is not a success');
  const rep = JSON.parse(stdout) as StorageBenchReport;
  t.deepEqual(validateStorageReport(rep), []);
  t.true(rep.interrupted);
  checkSane(t, byKey(rep, 'seqwrite-1m', 'local'));
  t.true(rep.results.length < 10, 'later jobs did not run');
  t.regex(stderr, /stopping/);
});
