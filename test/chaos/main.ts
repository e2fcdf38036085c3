import { Scope } from '../../bench/support.ts';
import { runWorkerCrashes, type ChaosOptions } from './worker-crashes.ts';

/**
 * `npm run chaos -- [--operations 200] [--kills 20] [--workers 2] [--seed N]`: the full worker-crash run of
 * test/chaos/worker-crashes.ts. Prints one JSON line (the report) on stdout, progress on stderr; exits 1 when an
 * invariant was violated.
 */
const defaults: ChaosOptions = { operations: 200, kills: 20, workers: 2, minGapMs: 1_000, maxGapMs: 8_000, seed: Date.now() % 1_000_000, timeoutMs: 30 * 60_000 };

function parse(argv: string[]): ChaosOptions {
  const opts = { ...defaults };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]!.replace(/^--/, '').replace(/-(\w)/g, (_, c: string) => c.toUpperCase()) as keyof ChaosOptions;
    const value = Number(argv[i + 1]);
    if (!(name in defaults) || !Number.isFinite(value) || value < 0) throw new Error(`unknown flag or bad number: ${argv[i]} ${argv[i + 1]} (flags: ${Object.keys(defaults).join(', ')})`);
    opts[name] = value;
  }
  return opts;
}

const scope = new Scope();
process.once('SIGINT', () => void scope.close().then(() => process.exit(130)));
try {
  const report = await runWorkerCrashes(scope, parse(process.argv.slice(2)), (msg) => process.stderr.write(`[chaos] ${msg}\n`));
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exitCode = report.violations.length > 0 ? 1 : 0;
} finally {
  await scope.close();
}
