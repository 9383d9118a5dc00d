/**
 * A small JSON Schema checker for the subset schema.ts uses (type, const, enum, required,
 * properties, additionalProperties: false, items, minimum, local $ref), so ferry checks reports
 * without a validator dependency. Returns every problem with its JSON path, empty when valid.
 */
import { STORAGE_JSON_SCHEMA } from './schema.js';

export { STORAGE_JSON_SCHEMA };

/** A schema node as far as this checker reads it. */
interface Node {
  type?: string | readonly string[];
  const?: unknown;
  enum?: readonly unknown[];
  required?: readonly string[];
  properties?: Record<string, Node>;
  additionalProperties?: boolean;
  items?: Node;
  minimum?: number;
  $ref?: string;
}

/** Bound on reported problems: one broken array element must not print a million lines. */
const MAX_PROBLEMS = 50;

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(want: string, got: string): boolean {
  return want === got || (want === 'number' && got === 'integer');
}

function resolve(root: Node & { $defs?: Record<string, Node> }, node: Node): Node {
  if (node.$ref === undefined) return node;
  const name = node.$ref.replace('#/$defs/', '');
  const target = root.$defs?.[name];
  if (!target) throw new Error(`schema refers to missing definition ${node.$ref}`);
  return target;
}

export function validateAgainst(schema: unknown, value: unknown): string[] {
  const root = schema as Node & { $defs?: Record<string, Node> };
  const problems: string[] = [];
  const check = (node0: Node, v: unknown, at: string): void => {
    if (problems.length >= MAX_PROBLEMS) return;
    const node = resolve(root, node0);
    const got = typeOf(v);
    if (node.type !== undefined) {
      const types = typeof node.type === 'string' ? [node.type] : node.type;
      if (!types.some((t) => typeMatches(t, got))) {
        problems.push(`${at}: expected ${types.join(' or ')}, got ${got}`);
        return;
      }
    }
    if (node.const !== undefined && v !== node.const)
      problems.push(`${at}: expected ${JSON.stringify(node.const)}`);
    if (node.enum && !node.enum.includes(v))
      problems.push(`${at}: expected one of ${node.enum.join(', ')}, got ${JSON.stringify(v)}`);
    if (typeof v === 'number' && node.minimum !== undefined && (v < node.minimum || !Number.isFinite(v)))
      problems.push(`${at}: ${v} is below ${node.minimum} or not finite`);
    if (got === 'array' && node.items)
      (v as unknown[]).forEach((item, i) => check(node.items!, item, `${at}[${i}]`));
    if (got === 'object') checkObject(node, v as Record<string, unknown>, at);
  };
  const checkObject = (node: Node, v: Record<string, unknown>, at: string): void => {
    for (const key of node.required ?? []) if (!(key in v)) problems.push(`${at}.${key}: missing`);
    for (const [key, value] of Object.entries(v)) {
      const sub = node.properties?.[key];
      if (sub) check(sub, value, `${at}.${key}`);
      else if (node.additionalProperties === false) problems.push(`${at}.${key}: not allowed here`);
    }
  };
  check(root, value, '$');
  return problems;
}

/** Problems of `value` as a `ferry.bench.storage/1` report (empty: valid). */
export function validateStorageReport(value: unknown): string[] {
  return validateAgainst(STORAGE_JSON_SCHEMA, value);
}
