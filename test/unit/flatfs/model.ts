/**
 * The trivial model of a flat filesystem, and the random operations the model-based test runs.
 *
 * Why: a backend and a Map of name -> Buffer (plus open handles and a byte count) must agree on
 * every result and every error code of any sequence of operations. The model is written for
 * obviousness, not speed: whole-buffer copies, no sparseness, no concurrency; a listing filters,
 * rolls up, sorts and slices every name; the file/folder collision rule is a scan of every name.
 * The names nest and collide (`a` and `a/x`, `b` and `b/c`), so the rule is exercised often.
 */
import type { ExecutionContext } from 'ava';
import fc from 'fast-check';
import { FerryError } from '../../../src/core/errors.js';
import { KiB } from '../../../src/core/limits.js';
import { compareNames } from '../../../src/flatfs/names.js';
import { HIDDEN_PREFIX, type FlatFs } from '../../../src/flatfs/types.js';
import { pattern } from './pattern.js';

export const MODEL_NAMES = [
  'a',
  'b',
  'c',
  'a/x',
  'a/y/z',
  'b/c',
  `${HIDDEN_PREFIX}tmp`,
  `${HIDDEN_PREFIX}part/a`,
] as const;

/** The listing parameters the random `list` operations choose from. */
export const LIST_PREFIXES = ['', 'a', 'a/', 'a/y/', 'b/', HIDDEN_PREFIX] as const;
const LIST_CURSORS = [null, 'a', 'a/', 'a/x', 'b', 'b/'] as const;
const LIST_LIMITS = [null, 1, 2, 3] as const;

export type Op =
  | { kind: 'create'; name: string; sizeBytes: number; exclusive: boolean }
  | { kind: 'open'; name: string; write: boolean }
  | { kind: 'close'; handle: number }
  | { kind: 'write'; handle: number; offset: number; lengthBytes: number; seed: number }
  | { kind: 'append'; handle: number; lengthBytes: number; seed: number }
  | { kind: 'read'; handle: number; offset: number; lengthBytes: number }
  | { kind: 'truncate'; name: string; sizeBytes: number }
  | { kind: 'ftruncate'; handle: number; sizeBytes: number }
  | { kind: 'rename'; from: string; to: string }
  | { kind: 'unlink'; name: string }
  | { kind: 'stat'; name: string }
  | { kind: 'fstat'; handle: number }
  | {
      kind: 'list';
      includeHidden: boolean;
      prefix?: string;
      delimited?: boolean;
      cursor?: string | null;
      limit?: number | null;
    }
  | { kind: 'statfs' };

/** Offsets and sizes cluster around the 64 KiB memory chunk boundaries, up to ~200 KiB. */
const offsetArb = fc.oneof(
  fc.integer({ min: 0, max: 200 * KiB }),
  fc.constantFrom(0, 64 * KiB - 1, 64 * KiB, 128 * KiB + 1),
);
const lengthArb = fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 70 * KiB }));
const nameArb = fc.constantFrom(...MODEL_NAMES);
const handleArb = fc.nat({ max: 12 });
const seedArb = fc.nat({ max: 255 });

/** Namespace changes and listings weigh more, so short sequences still build nested trees to list. */
export const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('create'),
      name: nameArb,
      sizeBytes: fc.oneof(fc.constant(0), offsetArb),
      exclusive: fc.boolean(),
    }),
  },
  fc.record({ kind: fc.constant('open'), name: nameArb, write: fc.boolean() }),
  fc.record({ kind: fc.constant('close'), handle: handleArb }),
  fc.record({
    kind: fc.constant('write'),
    handle: handleArb,
    offset: offsetArb,
    lengthBytes: lengthArb,
    seed: seedArb,
  }),
  fc.record({ kind: fc.constant('append'), handle: handleArb, lengthBytes: lengthArb, seed: seedArb }),
  fc.record({ kind: fc.constant('read'), handle: handleArb, offset: offsetArb, lengthBytes: lengthArb }),
  fc.record({ kind: fc.constant('truncate'), name: nameArb, sizeBytes: offsetArb }),
  fc.record({ kind: fc.constant('ftruncate'), handle: handleArb, sizeBytes: offsetArb }),
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rename'), from: nameArb, to: nameArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('unlink'), name: nameArb }) },
  fc.record({ kind: fc.constant('stat'), name: nameArb }),
  fc.record({ kind: fc.constant('fstat'), handle: handleArb }),
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('list'),
      includeHidden: fc.boolean(),
      prefix: fc.constantFrom(...LIST_PREFIXES),
      delimited: fc.boolean(),
      cursor: fc.constantFrom(...LIST_CURSORS),
      limit: fc.constantFrom(...LIST_LIMITS),
    }),
  },
  fc.record({ kind: fc.constant('statfs') }),
) as fc.Arbitrary<Op>;

/** What an operation gave: a comparable value, or an error code. */
export type Outcome = { ok: true; value: unknown } | { ok: false; code: string };

interface ModelInode {
  data: Buffer;
  name: string;
  linked: boolean;
  openCount: number;
}

class ModelError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

/** A flat filesystem as a Map of name -> Buffer, with POSIX handle lifetimes and a byte quota. */
export class ModelFs {
  private readonly files = new Map<string, ModelInode>();
  /** Handles by the order they were opened; null once closed. */
  private readonly handles: Array<{ inode: ModelInode; writable: boolean } | null> = [];
  private usedBytes = 0;

  constructor(private readonly quotaBytes: number) {}

  /** Handles opened so far (closed ones included): the index the next open will get. */
  get handleCount(): number {
    return this.handles.length;
  }

  apply(op: Op): Outcome {
    try {
      return { ok: true, value: this.run(op) };
    } catch (err) {
      if (err instanceof ModelError) return { ok: false, code: err.code };
      throw err;
    }
  }

  private run(op: Op): unknown {
    switch (op.kind) {
      case 'create':
        return this.create(op.name, op.sizeBytes, op.exclusive);
      case 'open': {
        const inode = this.lookup(op.name);
        inode.openCount++;
        this.handles.push({ inode, writable: op.write });
        return null;
      }
      case 'close': {
        const h = this.handle(op.handle);
        this.handles[op.handle] = null;
        h.inode.openCount--;
        this.forgetIfGone(h.inode);
        return null;
      }
      case 'write':
        this.writeAt(this.writable(op.handle), op.offset, pattern(op.lengthBytes, op.seed));
        return null;
      case 'append': {
        const inode = this.writable(op.handle);
        const offset = inode.data.length;
        this.writeAt(inode, offset, pattern(op.lengthBytes, op.seed));
        return offset;
      }
      case 'read': {
        const { data } = this.handle(op.handle).inode;
        return hex(data.subarray(Math.min(op.offset, data.length), op.offset + op.lengthBytes));
      }
      case 'truncate':
        this.resize(this.lookup(op.name), op.sizeBytes);
        return null;
      case 'ftruncate':
        this.resize(this.writable(op.handle), op.sizeBytes);
        return null;
      case 'rename':
        return this.rename(op.from, op.to);
      case 'unlink':
        this.unlinkInode(this.lookup(op.name));
        return null;
      case 'stat':
        return this.lookup(op.name).data.length;
      case 'fstat': {
        const { inode } = this.handle(op.handle);
        return [inode.name, inode.data.length];
      }
      case 'list':
        return this.list(op);
      case 'statfs':
        return [this.files.size, this.usedBytes];
    }
  }

  /** Every name, rolled up and sorted, then the page after the cursor: [items, nextCursor]. */
  private list(op: Extract<Op, { kind: 'list' }>): unknown {
    const prefix = op.prefix ?? '';
    const items = new Map<string, unknown[]>();
    for (const f of this.files.values()) {
      if (!f.name.startsWith(prefix) || (!op.includeHidden && f.name.startsWith(HIDDEN_PREFIX))) continue;
      const slash = op.delimited === true ? f.name.indexOf('/', prefix.length) : -1;
      if (slash === -1) items.set(f.name, [f.name, f.data.length]);
      else items.set(f.name.slice(0, slash + 1), [f.name.slice(0, slash + 1)]);
    }
    const byBytes = (x: string, y: string): number => Buffer.compare(Buffer.from(x), Buffer.from(y));
    const cursor = op.cursor ?? null;
    const after = [...items.keys()].filter((k) => cursor === null || byBytes(k, cursor) > 0).sort(byBytes);
    const page = after.slice(0, op.limit ?? after.length);
    const nextCursor = after.length > page.length ? (page[page.length - 1] ?? null) : null;
    return [page.map((k) => items.get(k)), nextCursor];
  }

  /** NOT_A_FOLDER when a file is a folder of `name`, IS_A_FOLDER when files are under `name/`. */
  private checkCreatable(name: string): void {
    for (const other of this.files.keys()) {
      if (name.startsWith(`${other}/`)) throw new ModelError('NOT_A_FOLDER');
      if (other.startsWith(`${name}/`)) throw new ModelError('IS_A_FOLDER');
    }
  }

  private create(name: string, sizeBytes: number, exclusive: boolean): null {
    this.checkCreatable(name);
    const existing = this.files.get(name);
    if (existing && exclusive) throw new ModelError('EXISTS');
    this.reserve(sizeBytes - (existing?.data.length ?? 0));
    const inode = existing ?? { data: Buffer.alloc(0), name, linked: true, openCount: 0 };
    inode.data = Buffer.alloc(sizeBytes);
    this.files.set(name, inode);
    inode.openCount++;
    this.handles.push({ inode, writable: true });
    return null;
  }

  private rename(from: string, to: string): null {
    const inode = this.lookup(from);
    if (from === to) return null;
    this.checkCreatable(to);
    const target = this.files.get(to);
    if (target) this.unlinkInode(target);
    this.files.delete(from);
    inode.name = to;
    this.files.set(to, inode);
    return null;
  }

  private writeAt(inode: ModelInode, offset: number, data: Buffer): void {
    if (data.length === 0) return;
    const end = offset + data.length;
    if (end > inode.data.length) {
      this.reserve(end - inode.data.length);
      inode.data = Buffer.concat([inode.data, Buffer.alloc(end - inode.data.length)]);
    }
    data.copy(inode.data, offset);
  }

  private resize(inode: ModelInode, sizeBytes: number): void {
    this.reserve(sizeBytes - inode.data.length);
    const next = Buffer.alloc(sizeBytes);
    inode.data.copy(next, 0, 0, Math.min(sizeBytes, inode.data.length));
    inode.data = next;
  }

  private reserve(deltaBytes: number): void {
    if (deltaBytes > 0 && this.usedBytes + deltaBytes > this.quotaBytes) throw new ModelError('NO_SPACE');
    this.usedBytes += deltaBytes;
  }

  private unlinkInode(inode: ModelInode): void {
    this.files.delete(inode.name);
    inode.linked = false;
    this.forgetIfGone(inode);
  }

  private forgetIfGone(inode: ModelInode): void {
    if (inode.linked || inode.openCount > 0) return;
    this.usedBytes -= inode.data.length;
  }

  private lookup(name: string): ModelInode {
    const inode = this.files.get(name);
    if (!inode) throw new ModelError('NOT_FOUND');
    return inode;
  }

  private handle(index: number): { inode: ModelInode; writable: boolean } {
    const h = this.handles[index];
    if (!h) throw new ModelError('BAD_HANDLE');
    return h;
  }

  private writable(index: number): ModelInode {
    const h = this.handle(index);
    if (!h.writable) throw new ModelError('BAD_HANDLE');
    return h.inode;
  }
}

function hex(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.length).toString('hex');
}

/** Runs `op` on a real backend; `handles` maps open order to the backend's handle numbers. */
export async function applyReal(fs: FlatFs, handles: number[], op: Op): Promise<Outcome> {
  try {
    return { ok: true, value: await runReal(fs, handles, op) };
  } catch (err) {
    if (err instanceof FerryError) return { ok: false, code: err.code };
    throw err;
  }
}

/** A handle index never opened maps to a number no backend hands out. */
const NEVER_OPENED = 2 ** 31;

async function runReal(fs: FlatFs, handles: number[], op: Op): Promise<unknown> {
  const h = (index: number): number => handles[index] ?? NEVER_OPENED;
  switch (op.kind) {
    case 'create':
      handles.push(await fs.create(op.name, { sizeBytes: op.sizeBytes, exclusive: op.exclusive }));
      return null;
    case 'open':
      handles.push(await fs.open(op.name, { write: op.write }));
      return null;
    case 'close':
      await fs.closeFile(h(op.handle));
      return null;
    case 'write':
      await fs.write(h(op.handle), op.offset, pattern(op.lengthBytes, op.seed));
      return null;
    case 'append':
      return fs.append(h(op.handle), pattern(op.lengthBytes, op.seed));
    case 'read':
      return hex(await fs.read(h(op.handle), op.offset, op.lengthBytes));
    case 'truncate':
      await fs.truncate(op.name, op.sizeBytes);
      return null;
    case 'ftruncate':
      await fs.ftruncate(h(op.handle), op.sizeBytes);
      return null;
    case 'rename':
      await fs.rename(op.from, op.to);
      return null;
    case 'unlink':
      await fs.unlink(op.name);
      return null;
    case 'stat':
      return (await fs.stat(op.name)).sizeBytes;
    case 'fstat': {
      const st = await fs.fstat(h(op.handle));
      return [st.name, st.sizeBytes];
    }
    case 'list': {
      const page = await fs.list({
        includeHidden: op.includeHidden,
        ...(op.prefix === undefined ? {} : { prefix: op.prefix }),
        ...(op.delimited === true ? { delimiter: '/' as const } : {}),
        ...(op.cursor === undefined || op.cursor === null ? {} : { cursor: op.cursor }),
        ...(op.limit === undefined || op.limit === null ? {} : { limit: op.limit }),
      });
      const items: Array<[string, ...unknown[]]> = [
        ...page.entries.map((e): [string, number] => [e.name, e.sizeBytes]),
        ...(page.prefixes ?? []).map((p): [string] => [p]),
      ];
      items.sort((x, y) => compareNames(x[0], y[0]));
      return [items, page.nextCursor];
    }
    case 'statfs': {
      const st = await fs.statfs();
      return [st.files, st.usedBytes];
    }
  }
}

/** Readable form of an outcome for failure reports (long reads are abbreviated). */
export function describeOutcome(o: Outcome): string {
  if (!o.ok) return `error ${o.code}`;
  const text = JSON.stringify(o.value);
  return text.length > 200 ? `${text.slice(0, 200)}... (${text.length} chars)` : text;
}

/** The last check reads each file whole through a fresh handle: more than any sequence writes. */
const FINAL_READ_BYTES = 1024 * KiB;

/**
 * Runs `ops` on `fs` (named `name` in messages) and on a ModelFs with `quotaBytes`, then compares
 * the listing, statfs, every prefix paged by 2 with and without a delimiter, and every file read
 * whole; throws at the first result or error code that differs.
 */
export async function agreeWithModel(fs: FlatFs, name: string, quotaBytes: number, ops: Op[]): Promise<void> {
  const model = new ModelFs(quotaBytes);
  const handles: number[] = [];
  const check = async (op: Op, step: number): Promise<Outcome> => {
    const expected = model.apply(op);
    const actual = await applyReal(fs, handles, op);
    if (JSON.stringify(actual) === JSON.stringify(expected)) return expected;
    throw new Error(
      `step ${step} ${JSON.stringify(op)}: ${name} gave ${describeOutcome(actual)}, model ${describeOutcome(expected)}`,
    );
  };
  for (const [step, op] of ops.entries()) await check(op, step);
  await check({ kind: 'list', includeHidden: true }, -1);
  await check({ kind: 'statfs' }, -1);
  for (const prefix of LIST_PREFIXES) {
    for (const delimited of [false, true]) {
      let cursor: string | null = null;
      do {
        const op: Op = { kind: 'list', includeHidden: true, prefix, delimited, cursor, limit: 2 };
        const page = await check(op, -1);
        cursor = page.ok ? ((page.value as [unknown, string | null])[1] ?? null) : null;
      } while (cursor !== null);
    }
  }
  for (const fileName of MODEL_NAMES) {
    await check({ kind: 'open', name: fileName, write: false }, -1);
    const handle = model.handleCount - 1;
    await check({ kind: 'read', handle, offset: 0, lengthBytes: FINAL_READ_BYTES }, -1);
  }
}

/**
 * The property test: `runs` random sequences of 1..`maxOps` operations through `agree`, seeded from
 * FERRY_SEED or at random; the seed is logged, and a failure says how to replay it.
 */
export async function checkRandomSequences(
  t: ExecutionContext,
  runs: number,
  maxOps: number,
  agree: (ops: Op[]) => Promise<void>,
): Promise<void> {
  const seed = Number(process.env['FERRY_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
  t.log(`seed ${seed} (replay with FERRY_SEED=${seed})`);
  try {
    await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: maxOps }), agree), {
      seed,
      numRuns: runs,
    });
    t.pass();
  } catch (err) {
    const cause = (err as Error).cause instanceof Error ? `\n${((err as Error).cause as Error).message}` : '';
    t.fail(`seed ${seed} (replay with FERRY_SEED=${seed}):\n${(err as Error).message}${cause}`);
  }
}
