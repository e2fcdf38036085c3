import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueueName } from '../../src/queue/catalog.ts';
import type { Runtime } from '../../src/runtime.ts';
import { startWorkers } from '../../workers/index.ts';
import { createTestContext, type TestContext } from '../support/context.ts';

/**
 * Jobs that belong to no row of this installation's database (queued by another installation on the same Redis
 * prefix, say a local install whose `.data/` was removed): each is completed at once with one warning, never retried.
 */
let ctx: TestContext;
let stop: (() => Promise<void>) | undefined;
let accountId: string;

beforeAll(async () => {
  ctx = await createTestContext();
  accountId = (await ctx.bootstrap()).accountId;
  const rt: Runtime = { ...ctx.deps, ring: ctx.ring, close: async () => {} };
  stop = await startWorkers(rt);
});
afterAll(async () => {
  await stop?.();
  await ctx?.close();
});

const lines = () => ctx.logs.map((l) => JSON.parse(l) as Record<string, any>);

async function settled(queue: QueueName, id: string): Promise<Job> {
  for (const deadline = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 100))) {
    const job = await ctx.deps.queues.get(queue).getJob(id);
    const state = await job?.getState();
    if (state === 'completed' || state === 'failed') return job!;
    expect(Date.now() < deadline, `job ${id} is still ${state}`).toBe(true);
  }
}

describe('a job whose row is not in this database', () => {
  it('is completed at once with one warning, whatever its queue: no "not found" error and no retry', async () => {
    const [operationId, resourceId, syncRun, costRun, credentialId] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await ctx.deps.queues.add('provision', { operationId, resourceId, phase: 'plan', accountId });
    await ctx.deps.queues.add('inventory-plan', { runId: syncRun, accountId });
    await ctx.deps.queues.add('cost-collect', { runId: costRun, accountId });
    await ctx.deps.queues.add('health-check', { credentialId, checkId: randomUUID(), accountId });
    const jobs = [
      { queue: 'provisioning', id: `${resourceId}_${operationId}_plan`, row: `operations row ${operationId}` },
      { queue: 'inventory', id: `plan_${syncRun}`, row: `sync_runs row ${syncRun}` },
      { queue: 'cost', id: `cost_${costRun}`, row: `cost_runs row ${costRun}` },
      { queue: 'health', id: expect.stringMatching(/^health_/), row: `credentials row ${credentialId}` },
    ] as const;
    for (const { queue, id, row } of jobs) {
      const jobId = typeof id === 'string' ? id : (await ctx.deps.queues.get(queue).getJobs(['wait', 'active', 'completed', 'failed', 'delayed'])).find((j) => j.data.credentialId === credentialId)!.id!;
      const job = await settled(queue, jobId);
      expect(await job.getState(), `${queue}: ${job.failedReason}`).toBe('completed');
      const said = lines().filter((l) => l.jobId === jobId);
      expect(said, JSON.stringify(said)).toHaveLength(1);
      expect(said[0]).toMatchObject({ level: 40, msg: 'job finished', outcome: 'orphaned', queue, orphan: expect.stringContaining(row) });
    }
    expect(ctx.logs.join('')).not.toMatch(/not found/i);
  });

  it('of a job name this version does not know is completed the same way', async () => {
    const queue = ctx.deps.queues.get('inventory');
    const job = await queue.add('inventory-gone-in-a-later-version', { runId: randomUUID() });
    const done = await settled('inventory', job.id!);
    expect(await done.getState()).toBe('completed');
    expect(lines().filter((l) => l.jobId === job.id)).toEqual([expect.objectContaining({ outcome: 'orphaned', level: 40 })]);
  });

  it('does not touch jobs whose row exists: they run as before', async () => {
    const { apiKey } = await ctx.bootstrap();
    const res = await ctx.app.inject({ method: 'POST', url: '/v1/credentials', headers: { authorization: `Bearer ${apiKey}` }, payload: { name: 's', provider: 'sandbox', secret: {} } });
    expect(res.statusCode, res.body).toBe(201);
    for (const deadline = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 100))) {
      const line = lines().find((l) => l.msg === 'job finished' && l.job === 'health-check' && l.credentialId === res.json().id);
      if (line) {
        expect(line.outcome, JSON.stringify(line)).toBe('completed');
        break;
      }
      expect(Date.now() < deadline, 'the health check never finished').toBe(true);
    }
  });
});
