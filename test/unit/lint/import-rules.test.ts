/**
 * The lint rules that keep the import graph in shape: the layer direction (eslint-rules/layers.js,
 * `layer-direction`), no ferry sub-command importing another (`command-independence`), and no import
 * cycles among src/, cli/ and bench/ (eslint-rules/import-cycles.js). Each runs through ESLint on a
 * small tree in a temp folder.
 */
import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ESLint, type Rule } from 'eslint';
import tseslint from 'typescript-eslint';

interface RulePlugin {
  default: { rules: Record<string, Rule.RuleModule> };
}

async function lintTree(files: Record<string, string>): Promise<Map<string, string[]>> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-lint-'));
  try {
    for (const [name, text] of Object.entries(files)) {
      await mkdir(dirname(join(dir, name)), { recursive: true });
      await writeFile(join(dir, name), text);
    }
    const layers = (await import('../../../eslint-rules/layers.js' as string)) as RulePlugin;
    const cycles = (await import('../../../eslint-rules/import-cycles.js' as string)) as RulePlugin;
    const eslint = new ESLint({
      cwd: dir,
      overrideConfigFile: true,
      overrideConfig: [
        {
          files: ['**/*.ts'],
          languageOptions: { parser: tseslint.parser as unknown as ESLint.Plugin },
          plugins: { ferry: { rules: { ...layers.default.rules, ...cycles.default.rules } } },
          rules: {
            'ferry/layer-direction': 'error',
            'ferry/command-independence': 'error',
            'ferry/no-import-cycle': 'error',
          },
        },
      ],
    });
    const out = new Map<string, string[]>();
    for (const r of await eslint.lintFiles(Object.keys(files))) {
      const name = r.filePath.slice(dir.length + 1);
      out.set(
        name,
        r.messages.map((m) => `${m.ruleId}: ${m.message}`),
      );
    }
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a command may not import another command; the registry, its own folder and cli/ are fine', async (t) => {
  const out = await lintTree({
    'cli/remote.ts': 'export const x = 1;\n',
    'cli/commands/index.ts': "export { a } from './cp.js';\nexport { b } from './bench/index.js';\n",
    'cli/commands/cp.ts': "import { x } from '../remote.js';\nexport const a = x;\n",
    'cli/commands/ls.ts': "import { a } from './cp.js';\nexport const c = a;\n",
    'cli/commands/rm.ts': "import { b } from './bench/index.js';\nexport const d = b;\n",
    'cli/commands/bench/index.ts': "import { s } from './storage.js';\nexport const b = s;\n",
    'cli/commands/bench/storage.ts': "import type { a } from '../cp.js';\nexport const s: typeof a = 1;\n",
  });
  t.deepEqual(out.get('cli/commands/index.ts'), []);
  t.deepEqual(out.get('cli/commands/cp.ts'), []);
  t.deepEqual(out.get('cli/commands/bench/index.ts'), []);
  const ls = out.get('cli/commands/ls.ts') ?? [];
  t.is(ls.length, 1);
  t.regex(ls[0]!, /^ferry\/command-independence: command ls may not import command cp/);
  t.regex((out.get('cli/commands/rm.ts') ?? [])[0] ?? '', /command rm may not import command bench/);
  t.regex(
    (out.get('cli/commands/bench/storage.ts') ?? [])[0] ?? '',
    /command bench may not import command cp/,
  );
});

test('an import cycle is refused in every file on it, type-only imports included, naming the cycle', async (t) => {
  const out = await lintTree({
    'bench/t/index.ts': "import type { R } from './render.js';\nexport type Report = { r: R };\n",
    'bench/t/render.ts':
      "import type { Report } from './index.js';\nexport type R = (x: Report) => string;\n",
    'src/a/one.ts': "import { two } from '../b/two.js';\nexport const one = () => two;\n",
    'src/b/two.ts': "export { three as two } from '../c/three.js';\n",
    'src/c/three.ts': "export const three = async () => (await import('../a/one.js')).one;\n",
    'src/d/free.ts': "import { one } from '../a/one.js';\nexport const free = one;\n",
  });
  t.deepEqual(out.get('bench/t/index.ts'), [
    'ferry/no-import-cycle: import cycle: bench/t/index.ts -> bench/t/render.ts -> bench/t/index.ts: ' +
      'move what they share into a module of its own that imports none of them',
  ]);
  t.is(out.get('bench/t/render.ts')?.length, 1);
  t.regex(
    out.get('src/a/one.ts')?.[0] ?? '',
    /src\/a\/one\.ts -> src\/b\/two\.ts -> src\/c\/three\.ts -> src\/a\/one\.ts/,
  );
  t.is(out.get('src/b/two.ts')?.length, 1);
  t.is(out.get('src/c/three.ts')?.length, 1);
  t.deepEqual(out.get('src/d/free.ts'), [], 'importing into a cycle is not itself a cycle');
});

test('a tree without cycles passes', async (t) => {
  const out = await lintTree({
    'bench/t/report.ts': 'export type Report = { n: number };\n',
    'bench/t/index.ts': "import type { Report } from './report.js';\nexport type { Report };\n",
    'bench/t/render.ts':
      "import type { Report } from './report.js';\nexport const render = (r: Report) => String(r.n);\n",
  });
  for (const [file, messages] of out) t.deepEqual(messages, [], file);
});

test('the impairment proxy (src/proxy) stands on transport, wire and core, and the transport below it does not use it', async (t) => {
  const out = await lintTree({
    'src/core/errors.ts': 'export const e = 1;\n',
    'src/transport/impair/impairment.ts': "import { e } from '../../core/errors.js';\nexport const i = e;\n",
    'src/transfer/client.ts': 'export const c = 1;\n',
    'src/proxy/impair-proxy.ts':
      "import { i } from '../transport/impair/impairment.js';\nimport { c } from '../transfer/client.js';\nexport const p = i + c;\n",
    'src/transport/endpoint.ts': "import { p } from '../proxy/impair-proxy.js';\nexport const q = p;\n",
    'src/index.ts': "export { p } from './proxy/impair-proxy.js';\n",
  });
  t.deepEqual(out.get('src/proxy/impair-proxy.ts'), [
    'ferry/layer-direction: src/proxy may not import from src/transfer (DESIGN.md layers: src/proxy may use src/transport, src/wire, src/core)',
  ]);
  t.regex(out.get('src/transport/endpoint.ts')?.[0] ?? '', /src\/transport may not import from src\/proxy/);
  t.deepEqual(out.get('src/index.ts'), []);
});
