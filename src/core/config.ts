/**
 * One way to declare, read and validate configuration.
 *
 * A component declares its settings once as a schema (kind, default, bounds, one line of doc); then
 * `readConfig(schema, input)` accepts a partial object or a `key=value,...` string, checks every
 * value once, and returns a frozen, fully-typed object. Errors name the key, the bad value and the
 * allowed range, so the message says what to fix. Sizes accept units (`64MiB`, `1G`), durations
 * accept `ms`/`s` suffixes.
 */
import { FerryError } from './errors.js';

interface BaseSetting<T> {
  readonly default: T;
  readonly doc: string;
}

export interface IntSetting extends BaseSetting<number> {
  readonly kind: 'int' | 'bytes' | 'ms';
  readonly min: number;
  readonly max: number;
}
export interface NumberSetting extends BaseSetting<number> {
  readonly kind: 'number';
  readonly min: number;
  readonly max: number;
}
export interface BoolSetting extends BaseSetting<boolean> {
  readonly kind: 'bool';
}
export interface StringSetting extends BaseSetting<string> {
  readonly kind: 'string';
  /** When given, the value must be one of these. */
  readonly values?: readonly string[];
}

export type Setting = IntSetting | NumberSetting | BoolSetting | StringSetting;
export type Schema = Readonly<Record<string, Setting>>;

export type ConfigOf<S extends Schema> = {
  readonly [K in keyof S]: S[K] extends BoolSetting ? boolean : S[K] extends StringSetting ? string : number;
};

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/** Parses `4096`, `64KiB`, `1.5G`, `10MB` into bytes, or returns NaN. */
export function parseBytes(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return NaN;
  const unit = SIZE_UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return NaN;
  return Math.round(Number(m[1]) * unit);
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `250`, `250ms`, `2s`, `1.5s`, `90m`, `24h`, `7d` into milliseconds, or returns NaN. */
export function parseDurationMs(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * (DURATION_UNITS_MS[m[2] ?? 'ms'] ?? NaN);
}

/** Splits `a=1,b=2` into entries. Empty input gives none; a part without `=` is an error. */
export function parseKeyValues(text: string, label = 'config'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const trimmed = part.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    if (eq <= 0) {
      throw new FerryError('INVALID_CONFIG', `${label}: expected key=value, got "${trimmed}"`);
    }
    out[trimmed.slice(0, eq).trim()] = trimmed.slice(eq + 1).trim();
  }
  return out;
}

function suggest(schema: Schema): string {
  return Object.keys(schema).join(', ');
}

function coerce(label: string, key: string, s: Setting, raw: unknown): number | boolean | string {
  const bad = (why: string): never => {
    throw new FerryError('INVALID_CONFIG', `${label}.${key} = ${JSON.stringify(raw)}: ${why}`, {
      key,
      value: raw,
    });
  };
  switch (s.kind) {
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1' || raw === 'yes') return true;
      if (raw === 'false' || raw === '0' || raw === 'no') return false;
      return bad('use true or false');
    }
    case 'string': {
      if (typeof raw !== 'string') return bad('use a string');
      if (s.values && !s.values.includes(raw)) return bad(`use one of ${s.values.join(', ')}`);
      return raw;
    }
    default: {
      let n: number;
      if (typeof raw === 'number') n = raw;
      else if (typeof raw === 'string') {
        n = s.kind === 'bytes' ? parseBytes(raw) : s.kind === 'ms' ? parseDurationMs(raw) : Number(raw);
      } else return bad('use a number');
      const unit = s.kind === 'bytes' ? ' bytes' : s.kind === 'ms' ? ' ms' : '';
      if (!Number.isFinite(n)) return bad(`use a number${unit ? ` (${unit.trim()})` : ''}`);
      if (s.kind !== 'number' && !Number.isInteger(n)) return bad('use a whole number');
      if (n < s.min || n > s.max) return bad(`use a value from ${s.min} to ${s.max}${unit}`);
      return n;
    }
  }
}

/**
 * Reads a configuration: defaults, overridden by `input` (object or `key=value,...` string).
 * Unknown keys and bad values throw INVALID_CONFIG naming the fix. The result is frozen.
 */
export function readConfig<S extends Schema>(
  schema: S,
  input: Partial<Record<keyof S, unknown>> | string | undefined,
  label = 'config',
): ConfigOf<S> {
  const given: Record<string, unknown> =
    typeof input === 'string' ? parseKeyValues(input, label) : { ...(input ?? {}) };
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(given)) {
    if (!(key in schema)) {
      throw new FerryError(
        'INVALID_CONFIG',
        `${label}: unknown setting "${key}"; known settings: ${suggest(schema)}`,
        { key },
      );
    }
  }
  for (const [key, s] of Object.entries(schema)) {
    const raw = given[key];
    out[key] = raw === undefined ? s.default : coerce(label, key, s, raw);
  }
  return Object.freeze(out) as ConfigOf<S>;
}

/** Default values of a schema as a plain object (for docs and `--help`). */
export function defaultsOf<S extends Schema>(schema: S): ConfigOf<S> {
  return readConfig(schema, undefined);
}

/** One line per setting: `key (kind, default X, min..max): doc`. */
export function describeSchema(schema: Schema): string[] {
  return Object.entries(schema).map(([key, s]) => {
    const range =
      'min' in s ? `, ${s.min}..${s.max}` : 'values' in s && s.values ? `, one of ${s.values.join('|')}` : '';
    return `${key} (${s.kind}, default ${String(s.default)}${range}): ${s.doc}`;
  });
}
