import { DelayedError, type Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AccountSlots } from '../../src/queue/fairness.ts';
import { PARK_MS, withAccountCap } from '../../workers/fairness.ts';
import { createRedis } from '../../src/queue/redis.ts';
import { REDIS_URL } from '../support/env.ts';
import { deleteKeys, uniquePrefix } from '../support/redis.ts';

const redis = createRedis(REDIS_URL);
const prefix = uniquePrefix('fair');

beforeAll(() => redis.connect());
afterAll(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

describe('per-account slots', () => {
  it('let an account run at most its cap of one queue at once, leaving others and other queues alone', async () => {
    const slots = new AccountSlots(redis, prefix);
    expect(await slots.acquire('inventory', 'acct-a', 'job-1', 2)).toBe(true);
    expect(await slots.acquire('inventory', 'acct-a', 'job-2', 2)).toBe(true);
    expect(await slots.acquire('inventory', 'acct-a', 'job-3', 2)).toBe(false);
    // The same job asking again renews its slot rather than taking another.
    expect(await slots.acquire('inventory', 'acct-a', 'job-2', 2)).toBe(true);
    expect(await slots.acquire('inventory', 'acct-b', 'job-4', 2)).toBe(true);
    expect(await slots.acquire('cost', 'acct-a', 'job-5', 2)).toBe(true);
    await slots.release('inventory', 'acct-a', 'job-1');
    expect(await slots.acquire('inventory', 'acct-a', 'job-3', 2)).toBe(true);
  });

  it('free a slot whose holder died once its lease lapses', async () => {
    const slots = new AccountSlots(redis, prefix, 300);
    expect(await slots.acquire('health', 'acct-c', 'dead-worker-job', 1)).toBe(true);
    expect(await slots.acquire('health', 'acct-c', 'next-job', 1)).toBe(false);
    await new Promise((r) => setTimeout(r, 400));
    expect(await slots.acquire('health', 'acct-c', 'next-job', 1)).toBe(true);
  });

  it('park the jobs beyond the cap in the account\'s line and wake the oldest (skipping gone ones) when a slot frees', async () => {
    const woken: string[] = [];
    const slots = new AccountSlots(redis, prefix, undefined, async (_queue, id) => {
      woken.push(id);
      return id !== 'gone-job';
    });
    expect(await slots.acquire('provisioning', 'acct-e', 'running', 1)).toBe(true);
    for (const id of ['gone-job', 'second', 'third']) expect(await slots.acquire('provisioning', 'acct-e', id, 1)).toBe(false);
    // Asking again keeps a job's place in line.
    expect(await slots.acquire('provisioning', 'acct-e', 'gone-job', 1)).toBe(false);
    await slots.release('provisioning', 'acct-e', 'running');
    expect(woken).toEqual(['gone-job', 'second']);
    expect(await slots.acquire('provisioning', 'acct-e', 'second', 1)).toBe(true);
    await slots.release('provisioning', 'acct-e', 'second');
    expect(woken).toEqual(['gone-job', 'second', 'third']);
    await slots.release('provisioning', 'acct-e', 'third');
    expect(woken).toHaveLength(3); // nobody left in line
  });

  it('hold the slot while the work runs (renewing it) and release it after, also when the work fails', async () => {
    const slots = new AccountSlots(redis, prefix, 300);
    let during: boolean | undefined;
    const result = await slots.run('provisioning', 'acct-d', 'long-job', 1, async () => {
      await new Promise((r) => setTimeout(r, 700)); // longer than the lease: renewal keeps it
      during = await slots.acquire('provisioning', 'acct-d', 'other-job', 1);
      return 42;
    });
    expect(result).toEqual({ ran: true, value: 42 });
    expect(during).toBe(false);
    await expect(slots.run('provisioning', 'acct-d', 'failing-job', 1, async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(await slots.run('provisioning', 'acct-d', 'after', 1, async () => 'ok')).toEqual({ ran: true, value: 'ok' });
  });
});

describe('per-account caps in the workers', () => {
  it('charge a job queued before payloads named their account to its row\'s account (an upgrade lets no backlog past the cap)', async () => {
    const { createTestContext, bearer } = await import('../support/context.ts');
    const ctx = await createTestContext({ SKYLOFT_ACCOUNT_CONCURRENCY: 'inventory=1' });
    try {
      const { apiKey, accountId } = await ctx.bootstrap();
      const cred = await ctx.app.inject({ method: 'POST', url: '/v1/credentials', headers: bearer(apiKey), payload: { name: 'sandbox', provider: 'sandbox', secret: {} } });
      const runId = await ctx.deps.sync.startOne(ctx.deps.orm.em.fork(), accountId, cred.json().id);
      let release!: () => void;
      const holding = new Promise<void>((ok) => (release = ok));
      let held!: () => void;
      const holds = new Promise<void>((ok) => (held = ok));
      const ran: string[] = [];
      const capped = withAccountCap({ ...ctx.deps, ring: ctx.ring, close: async () => {} }, 'inventory', async (job) => {
        ran.push(job.id!);
        if (job.id === 'old-1') {
          held();
          await holding;
        }
      });
      const scope = (id: string, named?: string) =>
        ({ id, name: 'inventory-scope', data: { runId, region: 'local', kind: id, ...(named && { accountId: named }) }, moveToDelayed: vi.fn(async () => {}) }) as unknown as Job;
      const first = capped(scope('old-1'), 'token');
      await holds;
      const second = scope('old-2');
      await expect(capped(second, 'token')).rejects.toBeInstanceOf(DelayedError);
      expect(second.moveToDelayed).toHaveBeenCalledOnce();
      await capped(scope('other-1', 'another-account'), 'token');
      release();
      await first;
      expect(ran).toEqual(['old-1', 'other-1']);
    } finally {
      await ctx.close();
    }
  }, 60_000);

  it('keep one account\'s creates from occupying every worker slot: another account\'s create runs beside them', async () => {
    const { createTestContext, bearer } = await import('../support/context.ts');
    const { startWorkers } = await import('../../workers/index.ts');
    const ctx = await createTestContext({ SKYLOFT_WORKER_CONCURRENCY: '3', SKYLOFT_ACCOUNT_CONCURRENCY: 'provisioning=1' });
    const stop = await startWorkers({ ...ctx.deps, ring: ctx.ring, close: async () => {} });
    try {
      const setUp = async () => {
        const { apiKey } = await ctx.bootstrap();
        const call = (method: string, url: string, payload?: object) => ctx.app.inject({ method: method as 'GET', url, headers: bearer(apiKey), ...(payload && { payload }) });
        const cred = await call('POST', '/v1/credentials', { name: 'sandbox', provider: 'sandbox', secret: {} });
        const create = async (name: string) => (await call('POST', '/v1/resources', { name, provider: 'sandbox', type: 'vm', region: 'local', credentialId: cred.json().id, spec: { provisionSeconds: 2 } })).json().operation.id as string;
        return { call, create };
      };
      const busy = await setUp();
      const other = await setUp();
      const busyOps = [await busy.create('a-1'), await busy.create('a-2'), await busy.create('a-3')];
      const otherOp = await other.create('b-1');
      type Op = { status: string; startedAt: string; finishedAt: string };
      const wait = async (call: typeof busy.call, id: string): Promise<Op> => {
        for (const deadline = Date.now() + 120_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
          const op = (await call('GET', `/v1/operations/${id}`)).json() as Op;
          if (!['queued', 'running'].includes(op.status)) return op;
        }
        throw new Error(`operation ${id} did not finish`);
      };
      const ops = await Promise.all(busyOps.map((id) => wait(busy.call, id)));
      const b = await wait(other.call, otherOp);
      for (const op of [...ops, b]) expect(op.status).toBe('succeeded');
      // The busy account ran one at a time (its cap), so its runs never overlap...
      const spans = ops.map((o) => [Date.parse(o.startedAt), Date.parse(o.finishedAt)] as const).sort((x, y) => x[0] - y[0]);
      for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1] - 50);
      // ...and back to back: each one's end wakes the next parked one (it does not wait for PARK_MS to come back).
      for (let i = 1; i < spans.length; i++) expect(spans[i]![0] - spans[i - 1]![1]).toBeLessThan(PARK_MS / 3);
      // ...and the other account did not wait for all of them: it finished before the busy account's last.
      expect(Date.parse(b.finishedAt)).toBeLessThan(spans[spans.length - 1]![1]);
    } finally {
      await stop();
      await ctx.close();
    }
  }, 150_000);
});
