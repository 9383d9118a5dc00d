// Refuses import cycles among ferry's own modules (src/, cli/, bench/): a file may not import
// anything that, directly or through other files, imports it again. Type-only imports count too: a
// cycle of types still says two modules are one concept split in two, and the shared part belongs in a
// module of its own (as bench/transport/report.ts holds the report both the runner and the renderer
// read).
//
// How: each file's relative imports are read with TypeScript's preProcessFile (comments and strings
// are not imports), cached by modification time, and for each import of the file being linted the
// rule searches the graph from the imported file back to it; the report names the whole cycle.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { relativeImports } from './imports.js';

/** The folders whose files the rule checks and whose imports it follows. */
export const CYCLE_ROOTS = ['src', 'cli', 'bench'];

/** path -> { mtimeMs, deps } */
const importsCache = new Map();

function isFile(p) {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The file a relative specifier names, the way tsc resolves ESM `.js` specifiers to `.ts` sources. */
export function resolveImport(fromFile, spec) {
  const base = path.resolve(path.dirname(fromFile), spec);
  const candidates = /\.[cm]?js$/.test(base)
    ? [base.replace(/js$/, 'ts'), base]
    : [base, base + '.ts', path.join(base, 'index.ts')];
  return candidates.find(isFile);
}

/** The files a source text imports (relative specifiers only, resolved; unresolvable ones left out). */
export function importsOf(file, text) {
  const info = ts.preProcessFile(text, true, true);
  const out = [];
  for (const ref of info.importedFiles) {
    if (!ref.fileName.startsWith('.')) continue;
    const target = resolveImport(file, ref.fileName);
    if (target !== undefined) out.push(target);
  }
  return out;
}

function cachedImportsOf(file) {
  let mtimeMs;
  try {
    mtimeMs = fs.statSync(file).mtimeMs;
  } catch {
    return [];
  }
  const hit = importsCache.get(file);
  if (hit && hit.mtimeMs === mtimeMs) return hit.deps;
  const deps = importsOf(file, fs.readFileSync(file, 'utf8'));
  importsCache.set(file, { mtimeMs, deps });
  return deps;
}

function inRoots(root, file) {
  const rel = path.relative(root, file).split(path.sep).join('/');
  return CYCLE_ROOTS.some((r) => rel.startsWith(r + '/'));
}

/**
 * A path of imports from `start` back to `goal` (both included), or null. `depsOf` gives a file's
 * imports; only files `within` accepts are followed.
 */
export function pathBack(start, goal, depsOf, within) {
  const cameFrom = new Map([[start, null]]);
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const at = queue[i];
    for (const next of depsOf(at)) {
      if (next === goal) {
        const chain = [goal];
        for (let f = at; f !== null; f = cameFrom.get(f)) chain.unshift(f);
        return chain;
      }
      if (cameFrom.has(next) || !within(next)) continue;
      cameFrom.set(next, at);
      queue.push(next);
    }
  }
  return null;
}

export default {
  rules: {
    'no-import-cycle': {
      meta: {
        type: 'problem',
        docs: { description: 'no import cycles among the modules of src/, cli/ and bench/' },
        schema: [],
      },
      create(context) {
        const root = context.cwd;
        const self = path.resolve(context.filename);
        if (!inRoots(root, self)) return {};
        const within = (f) => inRoots(root, f);
        const rel = (f) => path.relative(root, f).split(path.sep).join('/');
        return relativeImports(context, (node, spec) => {
          const target = resolveImport(self, spec);
          if (target === undefined || !within(target)) return;
          const chain = target === self ? [self] : pathBack(target, self, cachedImportsOf, within);
          if (chain === null) return;
          context.report({
            node: node.source,
            message: `import cycle: ${[self, ...chain].map(rel).join(' -> ')}: move what they share into a module of its own that imports none of them`,
          });
        });
      },
    },
  },
};
