import { afterAll, describe, expect, it } from 'vitest';
import { Scope } from '../../bench/support.ts';
import { runWorkerCrashes } from '../chaos/worker-crashes.ts';

const scope = new Scope();
afterAll(() => scope.close());

/** The small version of `npm run chaos` (test/chaos/worker-crashes.ts says what is checked). */
describe('sandbox operations while workers are SIGKILLed at random moments', () => {
  it('all end succeeded or failed with a reason, each resource created once, state versions increasing, no lock held', async () => {
    const report = await runWorkerCrashes(
      scope,
      { operations: 16, kills: 3, workers: 2, minGapMs: 500, maxGapMs: 4_000, seed: 7, timeoutMs: 300_000 },
      (msg) => process.stderr.write(`[chaos] ${msg}\n`),
    );
    console.log(JSON.stringify({ workerChaos: report }));
    expect(report.violations).toEqual([]);
    expect(report.kills).toBe(3);
    expect(report.operations).toBeGreaterThanOrEqual(16);
    expect(report.stateVersions).toBeGreaterThan(0);
  }, 480_000);
});
