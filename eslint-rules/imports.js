// What ferry's import rules share: visiting every relative import of a file (import and export-from
// declarations, dynamic imports) with the specifier and the repository-relative path it names.
import path from 'node:path';

/**
 * ESLint visitors that call `check(node, spec, target)` for each relative import of the file being
 * linted: `spec` as written, `target` the named path relative to the lint root, with `/` separators.
 */
export function relativeImports(context, check) {
  const visit = (node) => {
    const spec = node.source && node.source.value;
    if (typeof spec !== 'string' || !spec.startsWith('.')) return;
    const target = path.relative(context.cwd, path.resolve(path.dirname(context.filename), spec));
    check(node, spec, target.split(path.sep).join('/'));
  };
  return {
    ImportDeclaration: visit,
    ExportNamedDeclaration: visit,
    ExportAllDeclaration: visit,
    ImportExpression: visit,
  };
}
