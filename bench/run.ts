import { Scope, type Options } from './support.ts';

/**
 * `npm run bench` runs every suite; `npm run bench -- <suite> [<suite>...] [--runs N] [--count N] ...` runs some.
 * Each suite prints one JSON line per measure on stdout (API.md, "Benchmarks"); progress goes to stderr. Flags are
 * numbers that override a suite's default sizes (the sizes): --runs, --count, --concurrency,
 * --worker-concurrency, --state-mb, --seconds, --connections. A suite that fails reports on stderr and the command exits 1 after the others.
 */
interface Suite {
  defaults: Options;
  run(opts: Options): Promise<void>;
}

const SUITES: Record<string, () => Promise<Suite>> = {
  'state-backend': () => import('./state-backend.ts'),
  pipeline: () => import('./pipeline.ts'),
  queue: () => import('./queue.ts'),
  inventory: () => import('./inventory.ts'),
  'inventory-query': () => import('./inventory-query.ts'),
  cost: () => import('./cost.ts'),
  'api-load': () => import('./api-load.ts'),
  fairness: () => import('./fairness.ts'),
};

function parseArgs(argv: string[]): { names: string[]; flags: Options } {
  const names: string[] = [];
  const flags: Options = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      names.push(arg);
      continue;
    }
    const [rawName, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    const name = rawName.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
    const value = Number(inline ?? argv[++i]);
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${rawName} needs a number (0 or more)`);
    flags[name] = value;
  }
  return { names, flags };
}

async function main(): Promise<number> {
  const { names, flags } = parseArgs(process.argv.slice(2));
  const unknown = names.filter((n) => !(n in SUITES));
  if (unknown.length > 0) {
    process.stderr.write(`unknown suite: ${unknown.join(', ')}. Suites: ${Object.keys(SUITES).join(', ')}\n`);
    return 2;
  }
  let failed = 0;
  for (const name of names.length > 0 ? names : Object.keys(SUITES)) {
    const suite = await SUITES[name]!();
    const opts = { ...suite.defaults, ...flags };
    const unused = Object.keys(flags).filter((f) => !(f in suite.defaults));
    if (unused.length > 0 && names.length > 0) process.stderr.write(`[${name}] ignoring flags it does not take: ${unused.join(', ')}\n`);
    process.stderr.write(`[${name}] ${JSON.stringify(opts)}\n`);
    const started = performance.now();
    try {
      await suite.run(opts);
      process.stderr.write(`[${name}] done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    } catch (e) {
      failed++;
      process.stderr.write(`[${name}] FAILED: ${(e as Error).stack ?? String(e)}\n`);
    }
  }
  return failed > 0 ? 1 : 0;
}

// Ctrl-C or a kill: stop every process a suite started and drop its databases and Redis keys before leaving.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: cleaning up\n`);
    void Promise.all([...Scope.open].map((s) => s.close())).finally(() => process.exit(130));
  });
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(2);
  },
);
