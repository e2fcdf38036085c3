import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { accountCap, accountOf, QUEUE_NAMES, queueConcurrency, type Queues } from '../../src/queue/catalog.ts';
import { enqueueOrLeave } from '../../src/queue/enqueue.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { AppError, NotFoundError } from '../../src/shared/errors.ts';
import { settling, type JobHandler } from '../../workers/job-runner.ts';

const job = (attemptsMade: number, attempts = 3) => ({ data: {}, attemptsMade, opts: { attempts } }) as unknown as Job;

describe('the job catalog: each queue\'s policy', () => {
  it('derives every queue\'s concurrency and account cap from the configuration', () => {
    const defaults = loadConfig({});
    expect(Object.fromEntries(QUEUE_NAMES.map((q) => [q, [queueConcurrency(defaults, q), accountCap(defaults, q)]]))).toEqual({
      provisioning: [8, 4],
      inventory: [8, 4],
      health: [4, 2],
      cost: [2, 1],
    });
    const tuned = loadConfig({ SKYLOFT_WORKER_CONCURRENCY: '3', SKYLOFT_QUEUE_CONCURRENCY: 'cost=6', SKYLOFT_ACCOUNT_CONCURRENCY: 'health=4' });
    expect([queueConcurrency(tuned, 'provisioning'), accountCap(tuned, 'provisioning')]).toEqual([3, 1]);
    expect([queueConcurrency(tuned, 'cost'), accountCap(tuned, 'cost')]).toEqual([6, 3]);
    expect(accountCap(tuned, 'health')).toBe(4);
  });

  it('names a job\'s account from its payload, from its row for jobs queued before payloads named it, and none for scheduler ticks', () => {
    const runId = '0193f0a4-0000-7000-8000-000000000001';
    expect(accountOf('inventory-scope', { runId, region: 'r', kind: 'k', accountId: 'acct-1' })).toEqual({ named: 'acct-1' });
    expect(accountOf('cost-collect', { runId })).toEqual({ row: { table: 'cost_runs', id: runId } });
    expect(accountOf('scheduled-sync', { credentialId: runId, accountId: 'acct-1' })).toBeUndefined();
    expect(accountOf('no-such-job', { accountId: 'acct-1' })).toBeUndefined();
  });
});

describe('the job runner: retry or final failure', () => {
  const recorder = (run: JobHandler['run'], answer?: 'completed') => {
    const failures: string[] = [];
    const handler: JobHandler = { run, failed: async (_job, e) => { failures.push(e.message); return answer; } };
    return { failures, processor: settling(handler) };
  };

  it('lets BullMQ retry a retryable failure before the last attempt, recording nothing', async () => {
    const { failures, processor } = recorder(async () => { throw new Error('flaky'); });
    await expect(processor(job(0))).rejects.toThrow(/flaky/);
    await expect(processor(job(0))).rejects.not.toBeInstanceOf(UnrecoverableError);
    expect(failures).toEqual([]);
  });

  it('records a failure another attempt would repeat, or the last attempt\'s, and fails the job for good', async () => {
    const { failures, processor } = recorder(async () => { throw new NotFoundError('Credential', 'c1'); });
    await expect(processor(job(0))).rejects.toBeInstanceOf(UnrecoverableError);
    const last = recorder(async () => { throw new AppError('cloud', 503, 'throttled', { retryable: true }); });
    await expect(last.processor(job(2))).rejects.toBeInstanceOf(UnrecoverableError);
    expect([...failures, ...last.failures]).toEqual([expect.stringContaining('c1'), 'throttled']);
  });

  it('completes a job whose recorded failure must not hold its parent', async () => {
    const { failures, processor } = recorder(async () => { throw new Error('listing failed'); }, 'completed');
    await expect(processor(job(2))).resolves.toBeUndefined();
    expect(failures).toEqual(['listing failed']);
  });

  it('records nothing for a job moved back to the queue or stopped by its signal', async () => {
    const moved = recorder(async () => { throw new DelayedError(); });
    await expect(moved.processor(job(2))).rejects.toBeInstanceOf(DelayedError);
    const stopped = recorder(async () => { throw new Error('aborted'); });
    await expect(stopped.processor(job(2), undefined, AbortSignal.abort('shutdown'))).rejects.toThrow(/aborted/);
    expect([...moved.failures, ...stopped.failures]).toEqual([]);
  });
});

describe('enqueue now or leave it to the reconciler', () => {
  it('never fails the caller when Redis hangs or refuses: one warning names who enqueues it later', async () => {
    const lines: { msg: string; job?: string; runId?: string }[] = [];
    const log = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) });
    const hanging = { add: () => new Promise(() => {}) } as unknown as Queues;
    const refusing = { add: () => Promise.reject(new Error('ECONNREFUSED')) } as unknown as Queues;
    const payload = { runId: '0193f0a4-0000-7000-8000-000000000001', accountId: 'acct-1' };
    const started = Date.now();
    await enqueueOrLeave(hanging, log, 'cost-collect', payload, 'the reconciler');
    expect(Date.now() - started).toBeLessThan(3_000);
    await enqueueOrLeave(refusing, log, 'inventory-plan', payload, 'the reconciler');
    expect(lines.map((l) => [l.msg, l.job, l.runId])).toEqual([
      ['could not enqueue cost-collect; the reconciler will', 'cost-collect', payload.runId],
      ['could not enqueue inventory-plan; the reconciler will', 'inventory-plan', payload.runId],
    ]);
  });
});
