// Enforces the layer direction of DESIGN.md: a file may import only from its own layer and the layers
// below it. The layer of a file is the folder it sits in; the table below is the whole rule.
import path from 'node:path';

/** For each layer, the layers its files may import from (its own layer is always allowed). */
export const ALLOWED = {
  'src/core': [],
  'src/wire': ['src/core'],
  'src/transport': ['src/wire', 'src/core'],
  'src/blockdev': ['src/core'],
  'src/flatfs': ['src/core'],
  'src/transfer': ['src/transport', 'src/blockdev', 'src/flatfs', 'src/wire', 'src/core'],
  'src/fuse': ['src/transfer', 'src/transport', 'src/blockdev', 'src/flatfs', 'src/wire', 'src/core'],
  'src/nbd': ['src/transfer', 'src/transport', 'src/blockdev', 'src/flatfs', 'src/wire', 'src/core'],
  'src/index.ts': ['src/*'],
  // cli and bench are thin adapters over the public API; `ferry bench` (cli) runs the benchmarks in bench/.
  cli: ['src/index.ts', 'bench'],
  bench: ['src/index.ts'],
};

const LAYERS = Object.keys(ALLOWED).sort((a, b) => b.length - a.length);

function layerOf(relPath) {
  const p = relPath.split(path.sep).join('/');
  return LAYERS.find((l) => p === l || p.startsWith(l + '/'));
}

function allowed(from, to) {
  if (from === to) return true;
  return ALLOWED[from].some((a) => a === to || (a === 'src/*' && to.startsWith('src/')));
}

export default {
  rules: {
    'layer-direction': {
      meta: {
        type: 'problem',
        docs: { description: 'imports follow the layer direction of DESIGN.md' },
        schema: [],
      },
      create(context) {
        const root = context.cwd;
        const fromRel = path.relative(root, context.filename);
        const from = layerOf(fromRel);
        if (!from) return {};
        function check(node) {
          const spec = node.source && node.source.value;
          if (typeof spec !== 'string' || !spec.startsWith('.')) return;
          const target = path.relative(root, path.resolve(path.dirname(context.filename), spec));
          const to = layerOf(target.replace(/\.js$/, '.ts')) ?? layerOf(target);
          if (!to || allowed(from, to)) return;
          context.report({
            node: node.source,
            message: `${from} may not import from ${to} (DESIGN.md layers: ${from} may use ${ALLOWED[from].join(', ') || 'only itself'})`,
          });
        }
        return {
          ImportDeclaration: check,
          ExportNamedDeclaration: check,
          ExportAllDeclaration: check,
          ImportExpression: check,
        };
      },
    },
  },
};
