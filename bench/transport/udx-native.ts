/**
 * udx-native, the reliable-UDP peer ferry is measured against, is a dependency of the benchmarks
 * only: it lives in bench/package.json and bench/node_modules, never in ferry's own dependencies.
 * This module finds that folder (from source and from dist/ alike), installs the package on first
 * use, and loads it behind a small typed interface of the parts the benchmark uses (the package has
 * no types of its own). When it cannot be installed or loaded, callers get the reason as text, so
 * the udx rows of a run say why instead of crashing it.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface UdxSocket {
  bind(port: number, host: string): void;
  address(): { port: number };
  close(): Promise<void>;
}

export interface UdxStream {
  write(data: Buffer): boolean;
  connect(socket: UdxSocket, remoteId: number, port: number, host: string): void;
  destroy(): void;
  on(event: 'data', fn: (chunk: Buffer) => void): void;
  on(event: 'drain' | 'close', fn: () => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  off(event: 'drain' | 'close', fn: () => void): void;
  readonly retransmits: number;
  readonly rtoCount: number;
  readonly fastRecoveries: number;
  readonly packetsTransmitted: number;
  readonly packetsReceived: number;
  readonly bytesTransmitted: number;
  readonly bytesReceived: number;
  readonly mtu: number;
}

/** Called for a packet to a stream that is not connected yet; false lets it in. */
export type UdxFirewall = (socket: UdxSocket, port: number, host: string) => boolean;

export interface Udx {
  createSocket(): UdxSocket;
  createStream(id: number, opts?: { firewall?: UdxFirewall }): UdxStream;
}

export type UdxConstructor = new () => Udx;

const PACKAGE = 'udx-native';
/** Name in bench/package.json: how the folder is recognised when walking up from this file. */
const BENCH_PACKAGE_NAME = 'ferry-bench';
/** A first install fetches a few small packages; more than this means something is wrong. */
const INSTALL_TIMEOUT_MS = 180_000;

/** The bench/ folder that holds package.json: from source (bench/transport/) or from dist/bench/transport/. */
export function benchRoot(): string | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    for (const candidate of [dir, path.join(dir, 'bench')]) {
      if (isBenchPackage(candidate)) return candidate;
    }
    dir = path.dirname(dir);
  }
  return null;
}

function isBenchPackage(dir: string): boolean {
  const file = path.join(dir, 'package.json');
  if (!existsSync(file)) return false;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name === BENCH_PACKAGE_NAME;
  } catch {
    return false;
  }
}

export function udxInstalled(root: string): boolean {
  return existsSync(path.join(root, 'node_modules', PACKAGE, 'package.json'));
}

/**
 * Installs bench/'s dependencies when udx-native is missing. Resolves with null when it is there
 * (now or already), else with the reason it is not. `say` tells the user what is happening.
 */
export async function ensureUdx(say: (line: string) => void): Promise<string | null> {
  const root = benchRoot();
  if (root === null) return `bench/package.json not found near ${fileURLToPath(import.meta.url)}`;
  if (udxInstalled(root)) return null;
  say(`installing ${PACKAGE} for the benchmark (npm install --prefix ${root}; once only) ...`);
  const err = await new Promise<Error | null>((resolve) =>
    execFile(
      'npm',
      ['install', '--prefix', root, '--no-audit', '--no-fund'],
      { timeout: INSTALL_TIMEOUT_MS },
      (e) => resolve(e),
    ),
  );
  if (err) return `npm install --prefix ${root} failed: ${err.message.split('\n')[0]}`;
  return udxInstalled(root) ? null : `npm install --prefix ${root} did not install ${PACKAGE}`;
}

/** Loads the package (CommonJS) from bench/node_modules, or returns why it cannot. */
export function loadUdx(): UdxConstructor | string {
  const root = benchRoot();
  if (root === null) return 'bench/package.json not found';
  try {
    const req = createRequire(path.join(root, 'package.json'));
    return req(PACKAGE) as UdxConstructor;
  } catch (err) {
    return `${PACKAGE} cannot be loaded: ${(err as Error).message.split('\n')[0]}`;
  }
}
