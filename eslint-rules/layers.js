// Enforces the layer direction of DESIGN.md: a file may import only from its own layer and the layers
// below it. The layer of a file is the folder it sits in; the table below is the whole rule.
//
// Also: the `ferry` sub-commands stay independent of each other. A command is one file or one folder
// under cli/commands/; it may not import another command (what two commands share goes into cli/,
// e.g. cli/remote.ts or cli/util.ts). The registry, cli/commands/index.ts, lists them all.
import path from 'node:path';
import { relativeImports } from './imports.js';

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
  // Standalone programs over the transport (the `ferry impair` UDP proxy): no files, no transfers.
  'src/proxy': ['src/transport', 'src/wire', 'src/core'],
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

const COMMANDS = 'cli/commands';
const COMMAND_REGISTRY = 'cli/commands/index.ts';

/** The command a file belongs to: `cp` for cli/commands/cp.ts, `bench` for cli/commands/bench/storage.ts. */
function commandOf(relPath) {
  const p = relPath.split(path.sep).join('/');
  if (!p.startsWith(COMMANDS + '/')) return undefined;
  return p
    .slice(COMMANDS.length + 1)
    .split('/')[0]
    .replace(/\.[jt]s$/, '');
}

export default {
  rules: {
    'command-independence': {
      meta: {
        type: 'problem',
        docs: { description: 'a ferry sub-command (cli/commands/X) does not import another one' },
        schema: [],
      },
      create(context) {
        const root = context.cwd;
        const fromRel = path.relative(root, context.filename).split(path.sep).join('/');
        const from = commandOf(fromRel);
        if (from === undefined || fromRel === COMMAND_REGISTRY) return {};
        return relativeImports(context, (node, spec, target) => {
          const to = commandOf(target);
          if (to === undefined || to === from) return;
          context.report({
            node: node.source,
            message: `command ${from} may not import command ${to === 'index' ? 'registry' : to} (${spec}): move what both need into cli/ (e.g. cli/remote.ts, cli/util.ts) and import it from there`,
          });
        });
      },
    },
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
        return relativeImports(context, (node, _spec, target) => {
          const to = layerOf(target.replace(/\.js$/, '.ts')) ?? layerOf(target);
          if (!to || allowed(from, to)) return;
          context.report({
            node: node.source,
            message: `${from} may not import from ${to} (DESIGN.md layers: ${from} may use ${ALLOWED[from].join(', ') || 'only itself'})`,
          });
        });
      },
    },
  },
};
