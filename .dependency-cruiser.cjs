// The import rules of src/README.md, checked by test/unit/import-rules.test.ts (so `npm test` and CI run them).
// Every import counts: static, dynamic (`import()`) and type-only (`import type`, parsed by swc before compilation).
// Folder-level cycles (two folders importing each other through any files) are checked by that test, on this
// cruise's result.

/** The layers, lowest first; a folder may import its own layer's folders (without a cycle) and any lower one. */
const LAYERS = [
  ['src/config'],
  ['src/shared'],
  ['src/db', 'src/queue'],
  ['src/clouds', 'stacks'],
  ['src/modules'],
  ['src/deps\\.ts'],
  ['src/http', 'workers'],
  ['src/runtime\\.ts', 'src/roles\\.ts', 'src/main\\.ts', 'src/cli\\.ts', 'src/services\\.ts'],
];

const folder = (p) => `^${p}(/|$)`;

const layerRules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer[0].replace(/^src\//, '').replace(/\\\./g, '.')}`,
  comment: `${layer.join(', ')} may not import a higher layer (${LAYERS.slice(i + 1).flat().join(', ')}): imports flow config → shared → db, queue → clouds, stacks → modules → deps.ts → http, workers → runtime`,
  severity: 'error',
  from: { path: layer.map(folder) },
  to: { path: LAYERS.slice(i + 1).flat().map(folder) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import cycle between files.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'module-through-index',
      comment: 'A module is used by others only through its index.ts (src/modules/<b>/index.ts).',
      severity: 'error',
      from: { path: '^src/modules/([^/]+)/' },
      to: { path: '^src/modules/([^/]+)/', pathNot: ['^src/modules/$1/', '^src/modules/[^/]+/index\\.ts$'] },
    },
    {
      name: 'modules-from-outside-through-index',
      comment: 'Workers, HTTP and the entry points use a module only through its index.ts.',
      severity: 'error',
      from: { pathNot: '^src/modules/[^/]+/' },
      to: { path: '^src/modules/[^/]+/', pathNot: '^src/modules/[^/]+/index\\.ts$' },
    },
    {
      name: 'stacks-only-from-terraform',
      comment: 'Only the engine adapter (src/clouds/terraform) imports stacks/.',
      severity: 'error',
      from: { path: '^(src|workers)/', pathNot: '^src/clouds/terraform/' },
      to: { path: '^stacks/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(test|bench|node_modules)/' },
    parser: 'swc',
    tsPreCompilationDeps: true,
    moduleSystems: ['es6', 'cjs'],
  },
};
