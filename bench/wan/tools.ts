/**
 * The three copies of `ferry bench wan`, each a server in the server namespace and a client in the
 * client namespace, the client timed from spawn to exit:
 *
 * - ferry: `ferry serve --listen ADDR:PORT --root DIR` and `ferry cp FILE ADDR:PORT:NAME --json`,
 *   nothing else on either command line (defaults only). A non-loopback address needs a secret:
 *   a random one is passed in FERRY_SECRET to both (the handshake authenticates; data is the same);
 * - rsync: `rsync --whole-file FILE rsync://ADDR:PORT/mod/` to `rsync --daemon` (uid/gid root);
 * - tcp: tcp-pipe.ts, a Node `net` stream from file to file.
 *
 * Every client runs under a time bound (killed by pid when it is reached or on abort); servers are
 * stopped by pid after their copy. The copy is checked by SHA-256 against the source.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { sha256File, stopChild } from '../lib/peers.js';
import { SERVER_ADDR, type WanLink } from './emulator.js';
import type { ToolName } from './options.js';

const FERRY_PORT = 7733;
const RSYNC_PORT = 873;
const TCP_PORT = 9000;
const SERVER_START_MS = 30_000;
const RSYNC_IO_TIMEOUT_S = 120;

export interface CopyOutcome {
  tool: ToolName;
  status: 'ok' | 'failed' | 'timeout' | 'interrupted';
  /** Client process, spawn to exit. */
  seconds: number | null;
  /** The destination's SHA-256 equals the source's. */
  identical: boolean | null;
  /** Tool-specific figures (ferry: its own copy seconds and retransmits). */
  detail: Record<string, unknown>;
  error?: string;
}

export interface CopyContext {
  link: WanLink;
  /** Source file (random), its SHA-256, its size. */
  src: string;
  srcHash: string;
  sizeBytes: number;
  /** A scratch folder for this path; each tool gets a subfolder. */
  dir: string;
  timeoutMs: number;
  signal: AbortSignal;
}

/** The repository root and how to run its TypeScript (from source) or JavaScript (from dist/). */
function entry(): { root: string; fromSource: boolean } {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  return { root: path.resolve(path.dirname(here), fromSource ? '../..' : '../../..'), fromSource };
}

function nodeArgs(script: { source: string; dist: string }): string[] {
  const { root, fromSource } = entry();
  return fromSource
    ? ['--import', import.meta.resolve('tsx'), path.join(root, script.source)]
    : [path.join(root, script.dist)];
}

export async function runCopy(tool: ToolName, ctx: CopyContext): Promise<CopyOutcome> {
  const dir = path.join(ctx.dir, tool);
  await mkdir(dir, { recursive: true });
  const servers: ChildProcess[] = [];
  try {
    const outcome =
      tool === 'ferry'
        ? await ferryCopy(ctx, dir, servers)
        : tool === 'rsync'
          ? await rsyncCopy(ctx, dir, servers)
          : await tcpCopy(ctx, dir, servers);
    return outcome;
  } catch (err) {
    return {
      tool,
      status: ctx.signal.aborted ? 'interrupted' : 'failed',
      seconds: null,
      identical: null,
      detail: {},
      error: err instanceof Error ? err.message : String(err),
    };
  } finally {
    for (const s of servers) await stopChild(s);
    await rm(dir, { recursive: true, force: true });
  }
}

async function ferryCopy(ctx: CopyContext, dir: string, servers: ChildProcess[]): Promise<CopyOutcome> {
  const secret = randomBytes(32).toString('hex');
  const env = { ...process.env, FERRY_SECRET: secret };
  const cli = nodeArgs({ source: 'cli/dev.ts', dist: 'bin/ferry.js' });
  const server = ctx.link.spawnIn(
    ctx.link.server,
    process.execPath,
    [...cli, 'serve', '--listen', `${SERVER_ADDR}:${FERRY_PORT}`, '--root', dir],
    { env },
  );
  servers.push(server);
  await waitOutput(server, 'stderr', /listening on/, ctx.signal);
  const r = await timedClient(
    ctx,
    ctx.link.spawnIn(
      ctx.link.client,
      process.execPath,
      [...cli, 'cp', ctx.src, `${SERVER_ADDR}:${FERRY_PORT}:copy.bin`, '--json'],
      { env },
    ),
  );
  let detail: Record<string, unknown> = {};
  if (r.status === 'ok') {
    try {
      const s = JSON.parse(r.stdout) as { seconds?: number; retransmits?: number; rttMs?: number };
      detail = { copy_seconds: s.seconds, retransmits: s.retransmits, rtt_ms: s.rttMs };
    } catch {
      detail = { stdout: r.stdout.slice(0, 500) };
    }
  }
  return finish('ferry', ctx, r, path.join(dir, 'copy.bin'), detail);
}

async function rsyncCopy(ctx: CopyContext, dir: string, servers: ChildProcess[]): Promise<CopyOutcome> {
  const conf = path.join(ctx.dir, 'rsyncd.conf');
  await writeFile(
    conf,
    // timeout: the daemon's per-connection children (forked, so without PDEATHSIG) end by
    // themselves after RSYNC_IO_TIMEOUT_S of silence if this process is killed mid-copy.
    `uid = root\ngid = root\nuse chroot = no\nmax connections = 4\ntimeout = ${RSYNC_IO_TIMEOUT_S}\n[mod]\npath = ${dir}\nread only = no\n`,
  );
  const daemon = ctx.link.spawnIn(ctx.link.server, 'rsync', [
    '--daemon',
    '--no-detach',
    `--config=${conf}`,
    `--port=${RSYNC_PORT}`,
    `--address=${SERVER_ADDR}`,
  ]);
  servers.push(daemon);
  await waitListening(ctx, daemon, RSYNC_PORT);
  const r = await timedClient(
    ctx,
    ctx.link.spawnIn(ctx.link.client, 'rsync', [
      '--whole-file',
      ctx.src,
      `rsync://${SERVER_ADDR}:${RSYNC_PORT}/mod/copy.bin`,
    ]),
  );
  return finish('rsync', ctx, r, path.join(dir, 'copy.bin'), {});
}

async function tcpCopy(ctx: CopyContext, dir: string, servers: ChildProcess[]): Promise<CopyOutcome> {
  const pipe = nodeArgs({ source: 'bench/wan/tcp-pipe.ts', dist: 'dist/bench/wan/tcp-pipe.js' });
  const out = path.join(dir, 'copy.bin');
  const receiver = ctx.link.spawnIn(ctx.link.server, process.execPath, [
    ...pipe,
    'receive',
    SERVER_ADDR,
    String(TCP_PORT),
    out,
  ]);
  servers.push(receiver);
  await waitOutput(receiver, 'stdout', /listening/, ctx.signal);
  const r = await timedClient(
    ctx,
    ctx.link.spawnIn(ctx.link.client, process.execPath, [
      ...pipe,
      'send',
      SERVER_ADDR,
      String(TCP_PORT),
      ctx.src,
    ]),
  );
  return finish('tcp', ctx, r, out, {});
}

interface ClientRun {
  status: 'ok' | 'failed' | 'timeout' | 'interrupted';
  seconds: number;
  stdout: string;
  stderr: string;
}

/** Runs a client to exit under the time bound; kills it by pid at the bound or on abort. */
function timedClient(ctx: CopyContext, child: ChildProcess): Promise<ClientRun> {
  const start = performance.now();
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => {
    let why: 'timeout' | 'interrupted' | null = null;
    const kill = (reason: 'timeout' | 'interrupted'): void => {
      why ??= reason;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => kill('timeout'), ctx.timeoutMs);
    const onAbort = (): void => kill('interrupted');
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    if (ctx.signal.aborted) onAbort();
    child.once('error', (err) => {
      stderr += String(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
      const seconds = (performance.now() - start) / 1000;
      resolve({ status: why ?? (code === 0 ? 'ok' : 'failed'), seconds, stdout, stderr });
    });
  });
}

async function finish(
  tool: ToolName,
  ctx: CopyContext,
  r: ClientRun,
  dest: string,
  detail: Record<string, unknown>,
): Promise<CopyOutcome> {
  if (r.status !== 'ok') {
    return {
      tool,
      status: r.status,
      seconds: null,
      identical: null,
      detail,
      error:
        r.status === 'timeout' ? `no result within ${ctx.timeoutMs / 1000} s` : r.stderr.trim().slice(-500),
    };
  }
  const hash = await sha256File(dest).catch(() => null);
  const identical = hash === ctx.srcHash;
  return {
    tool,
    status: identical ? 'ok' : 'failed',
    seconds: r.seconds,
    identical,
    detail,
    ...(identical
      ? {}
      : { error: hash === null ? 'no file at the destination' : 'the copy differs from the source' }),
  };
}

/** Resolves once `pattern` appears on the child's stream; rejects if it exits first or after 30 s. */
function waitOutput(
  child: ChildProcess,
  stream: 'stdout' | 'stderr',
  pattern: RegExp,
  signal: AbortSignal,
): Promise<void> {
  let text = '';
  let other = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`server did not start: ${text}${other}`)), SERVER_START_MS);
    const onData = (d: string): void => {
      text += d;
      if (pattern.test(text)) done(null);
    };
    const onOther = (d: string): void => {
      other += d;
    };
    const onExit = (code: number | null): void =>
      done(new Error(`server exited (${code}) before it was ready: ${(text + other).trim().slice(-500)}`));
    const onAbort = (): void => done(new Error('interrupted'));
    const done = (err: Error | null): void => {
      clearTimeout(timer);
      child[stream]!.off('data', onData);
      child.off('exit', onExit);
      signal.removeEventListener('abort', onAbort);
      // keep draining so a chatty server never blocks on a full pipe
      child.stdout?.resume();
      child.stderr?.resume();
      if (err) reject(err);
      else resolve();
    };
    child[stream]!.setEncoding('utf8').on('data', onData);
    child[stream === 'stdout' ? 'stderr' : 'stdout']!.setEncoding('utf8').on('data', onOther);
    child.once('exit', onExit);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Polls `ss` in the server namespace until the port listens (rsync says nothing when ready). */
async function waitListening(ctx: CopyContext, child: ChildProcess, port: number): Promise<void> {
  child.stdout?.resume();
  child.stderr?.resume();
  const deadline = performance.now() + SERVER_START_MS;
  while (performance.now() < deadline) {
    if (ctx.signal.aborted) throw new Error('interrupted');
    if (child.exitCode !== null) throw new Error(`rsync --daemon exited (${child.exitCode})`);
    if (await ctx.link.listening(ctx.link.server, port)) return;
    await sleep(100);
  }
  throw new Error(`rsync --daemon did not listen on port ${port} within ${SERVER_START_MS / 1000} s`);
}
