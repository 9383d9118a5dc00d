/**
 * A FlatFs that forwards to another until told to fail: every call then rejects with a given error
 * code (a lost server: UNREACHABLE, PEER_DEAD, TIMEOUT, CLOSED) or never settles (a hung server).
 * Used by the FUSE adapter's unit tests and by the lost-backend mount test (fuse-serve.ts).
 */
import { FerryError, type ErrorCode, type FlatFs } from '../../src/index.js';

export type Fault =
  | { kind: 'none' }
  | { kind: 'reject'; code: ErrorCode }
  | { kind: 'throw'; error: unknown }
  | { kind: 'hang' }
  | { kind: 'hold' };

export class FaultyFlatFs implements FlatFs {
  fault: Fault = { kind: 'none' };
  /** Calls made while a fault was on, by method name. */
  readonly faultedCalls: string[] = [];
  /** Handles passed to closeFile (whatever the fault). */
  readonly closedHandles: number[] = [];
  /** Calls held by the 'hold' fault, run in order by release(). */
  private readonly held: Array<() => void> = [];

  constructor(private readonly inner: FlatFs) {}

  get readOnly(): boolean {
    return this.inner.readOnly;
  }

  private gate<T>(method: string, work: () => Promise<T>): Promise<T> {
    const f = this.fault;
    if (f.kind === 'none') return work();
    this.faultedCalls.push(method);
    if (f.kind === 'hang') return new Promise<T>(() => undefined);
    if (f.kind === 'hold')
      return new Promise<T>((resolve, reject) => this.held.push(() => work().then(resolve, reject)));
    if (f.kind === 'throw') throw f.error;
    return Promise.reject(new FerryError(f.code, `injected ${f.code}`));
  }

  /** Runs the held calls (and stops holding new ones). */
  release(): void {
    this.fault = { kind: 'none' };
    for (const run of this.held.splice(0)) run();
  }

  create: FlatFs['create'] = (name, opts) => this.gate('create', () => this.inner.create(name, opts));
  open: FlatFs['open'] = (name, opts) => this.gate('open', () => this.inner.open(name, opts));
  closeFile: FlatFs['closeFile'] = (h) => {
    this.closedHandles.push(h);
    return this.gate('closeFile', () => this.inner.closeFile(h));
  };
  stat: FlatFs['stat'] = (name) => this.gate('stat', () => this.inner.stat(name));
  fstat: FlatFs['fstat'] = (h) => this.gate('fstat', () => this.inner.fstat(h));
  list: FlatFs['list'] = (opts) => this.gate('list', () => this.inner.list(opts));
  read: FlatFs['read'] = (h, o, l) => this.gate('read', () => this.inner.read(h, o, l));
  readInto: FlatFs['readInto'] = (h, o, t) => this.gate('readInto', () => this.inner.readInto(h, o, t));
  write: FlatFs['write'] = (h, o, d) => this.gate('write', () => this.inner.write(h, o, d));
  append: FlatFs['append'] = (h, d) => this.gate('append', () => this.inner.append(h, d));
  truncate: FlatFs['truncate'] = (n, s) => this.gate('truncate', () => this.inner.truncate(n, s));
  ftruncate: FlatFs['ftruncate'] = (h, s) => this.gate('ftruncate', () => this.inner.ftruncate(h, s));
  rename: FlatFs['rename'] = (f, t) => this.gate('rename', () => this.inner.rename(f, t));
  unlink: FlatFs['unlink'] = (n) => this.gate('unlink', () => this.inner.unlink(n));
  setTimes: FlatFs['setTimes'] = (n, a, m) => this.gate('setTimes', () => this.inner.setTimes(n, a, m));
  fsync: FlatFs['fsync'] = (h) => this.gate('fsync', () => this.inner.fsync(h));
  statfs: FlatFs['statfs'] = () => this.gate('statfs', () => this.inner.statfs());
  close: FlatFs['close'] = () => this.inner.close();
}
