import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/runtime.ts';
import { startWorkers } from '../../workers/index.ts';
import { createTestContext, type TestContext } from '../support/context.ts';

/**
 * Security issue 8, class 5 (noisy neighbours), attacked from outside: real HTTP against the app, the real worker
 * running real terraform. One account must not be able to delay another's work, hold unlimited credentials,
 * resources or operations, or schedule paid and heavy work as often as it likes.
 */

type Answer = { status: number; headers: Headers; json: any };
type Client = (method: string, path: string, body?: unknown) => Promise<Answer>;

async function listen(ctx: TestContext): Promise<string> {
  return ctx.app.listen({ port: 0, host: '127.0.0.1' });
}

function client(baseUrl: string, key: string): Client {
  return async (method, path, body) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null };
  };
}

/** A new account, its admin's client, and a sandbox credential. */
async function tenant(ctx: TestContext, baseUrl: string) {
  const { accountId, apiKey } = await ctx.bootstrap();
  const call = client(baseUrl, apiKey);
  const cred = await call('POST', '/v1/credentials', { name: 'sandbox', provider: 'sandbox', secret: {} });
  expect(cred.status, JSON.stringify(cred.json)).toBe(201);
  const vm = (name: string, spec: Record<string, unknown> = {}) => ({ name, provider: 'sandbox', type: 'vm', region: 'local', credentialId: cred.json.id, spec });
  return { accountId, call, credentialId: cred.json.id as string, vm };
}

const sql = async <T>(ctx: TestContext, text: string, params: unknown[] = []) => ctx.orm.em.fork().getConnection().execute<T[]>(text, params);
const count = async (ctx: TestContext, text: string, params: unknown[] = []) => Number((await sql<{ n: string }>(ctx, text, params))[0]!.n);

/** The statuses of a burst of requests, as a {status: count} tally. */
const tally = (answers: Answer[]) => answers.reduce<Record<number, number>>((t, a) => ({ ...t, [a.status]: (t[a.status] ?? 0) + 1 }), {});

function expectQuotaRefusal(a: Answer, variable: string, status = 422) {
  expect(a.status, JSON.stringify(a.json)).toBe(status);
  expect(a.json.error.code).toBe('quota_exceeded');
  expect(a.json.error.message).toContain(variable);
  expect(a.json.error.details).toMatchObject({ variable, limit: expect.any(Number) });
}

describe('with default settings, one account\'s load', () => {
  let ctx: TestContext;
  let stop: (() => Promise<void>) | undefined;
  let baseUrl: string;

  beforeAll(async () => {
    ctx = await createTestContext(); // no fairness or concurrency variable: the defaults are what is attacked
    baseUrl = await listen(ctx);
    const rt: Runtime = { ...ctx.deps, ring: ctx.ring, close: async () => {} };
    stop = await startWorkers(rt);
  });
  afterAll(async () => {
    await stop?.();
    await ctx?.close();
  });

  it('does not keep another account\'s one-second create from completing within 20 s', async () => {
    const noisy = await tenant(ctx, baseUrl);
    const quiet = await tenant(ctx, baseUrl);

    // The noisy account queues as many creates as it may (its default quota of unfinished operations), each taking a
    // minute: far more than every worker slot.
    const noisyOps: string[] = [];
    const allowed = 100; // the default SKYLOFT_QUOTA_ACTIVE_OPERATIONS (checked below)
    for (let batch = 0; batch < allowed / 10; batch++) {
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => noisy.call('POST', '/v1/resources', noisy.vm(`slow-${batch}-${i}`, { provisionSeconds: 60 }))));
      for (const a of answers) {
        expect(a.status, JSON.stringify(a.json)).toBe(202);
        noisyOps.push(a.json.operation.id);
      }
    }
    const running = () => count(ctx, "select count(*) as n from operations where account_id = ? and status = 'running'", [noisy.accountId]);
    for (const deadline = Date.now() + 30_000; (await running()) < 2; await new Promise((r) => setTimeout(r, 200))) {
      if (Date.now() > deadline) throw new Error('the noisy account\'s creates never started');
    }
    await new Promise((r) => setTimeout(r, 1_000)); // let the workers take whatever else they would take

    try {
      const started = Date.now();
      const created = await quiet.call('POST', '/v1/resources', quiet.vm('quick', { provisionSeconds: 1 }));
      expect(created.status, JSON.stringify(created.json)).toBe(202);
      let op = created.json.operation;
      while (['queued', 'running'].includes(op.status) && Date.now() - started < 20_000) {
        await new Promise((r) => setTimeout(r, 200));
        op = (await quiet.call('GET', `/v1/operations/${op.id}`)).json;
      }
      const seconds = (Date.now() - started) / 1000;
      expect(op.status, `after ${seconds.toFixed(1)} s the other account's one-second create is still ${op.status}`).toBe('succeeded');
      expect(seconds).toBeLessThan(20);
      // The noisy account ran no more than its share (half of a worker's slots) meanwhile, and may queue no more.
      expect(await running()).toBeLessThanOrEqual(ctx.config.workerConcurrency / 2);
      expect(ctx.config.quotas.activeOperations).toBe(allowed);
      expectQuotaRefusal(await noisy.call('POST', '/v1/resources', noisy.vm('one-more', { provisionSeconds: 60 })), 'SKYLOFT_QUOTA_ACTIVE_OPERATIONS');
    } finally {
      // Cancel the minute-long creates (queued ones at once, running ones stop their terraform) before the workers stop.
      await Promise.all(noisyOps.map((id) => noisy.call('POST', `/v1/operations/${id}/cancel`)));
      for (const deadline = Date.now() + 20_000; (await running()) > 0 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 200));
    }
  }, 60_000);
});

describe('count quotas', () => {
  let ctx: TestContext;
  let baseUrl: string;

  beforeAll(async () => {
    // No worker: operations stay queued, so they count as unfinished.
    ctx = await createTestContext({ SKYLOFT_QUOTA_CREDENTIALS: '2', SKYLOFT_QUOTA_RESOURCES: '4', SKYLOFT_QUOTA_ACTIVE_OPERATIONS: '2' });
    baseUrl = await listen(ctx);
  });
  afterAll(() => ctx?.close());

  const queuedJobs = async () => (await ctx.deps.queues.get('provisioning').getJobCounts('waiting', 'delayed', 'active', 'prioritized'));
  const jobTotal = async () => Object.values(await queuedJobs()).reduce((a, b) => a + b, 0);

  it('refuse credentials beyond SKYLOFT_QUOTA_CREDENTIALS with 422, writing nothing, also when eight race for the last one', async () => {
    const a = await tenant(ctx, baseUrl); // holds one
    const audits = () => count(ctx, "select count(*) as n from audit_logs where account_id = ? and action = 'credential.create'", [a.accountId]);
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => a.call('POST', '/v1/credentials', { name: `extra-${i}`, provider: 'sandbox', secret: {} })));
    expect(tally(answers)).toEqual({ 201: 1, 422: 7 });
    for (const refused of answers.filter((x) => x.status !== 201)) expectQuotaRefusal(refused, 'SKYLOFT_QUOTA_CREDENTIALS');
    expect(answers.find((x) => x.status === 422)!.json.error.details).toMatchObject({ quota: 'credentials', limit: 2, used: 2 });
    expect(await count(ctx, 'select count(*) as n from credentials where account_id = ?', [a.accountId])).toBe(2);
    expect(await audits()).toBe(2);
    // Another account has its own quota.
    await tenant(ctx, baseUrl);
  });

  it('refuse operations beyond SKYLOFT_QUOTA_ACTIVE_OPERATIONS and live resources beyond SKYLOFT_QUOTA_RESOURCES, writing and queueing nothing', async () => {
    const a = await tenant(ctx, baseUrl);
    const jobsBefore = await jobTotal();
    const first = await a.call('POST', '/v1/resources', a.vm('first'));
    expect(first.status, JSON.stringify(first.json)).toBe(202);

    // One unfinished operation left: eight creates race for it.
    const raced = await Promise.all(Array.from({ length: 8 }, (_, i) => a.call('POST', '/v1/resources', a.vm(`raced-${i}`))));
    expect(tally(raced)).toEqual({ 202: 1, 422: 7 });
    for (const refused of raced.filter((x) => x.status !== 202)) expectQuotaRefusal(refused, 'SKYLOFT_QUOTA_ACTIVE_OPERATIONS');
    const rows = () => Promise.all([
      count(ctx, "select count(*) as n from resources where account_id = ? and status <> 'destroyed'", [a.accountId]),
      count(ctx, 'select count(*) as n from operations where account_id = ?', [a.accountId]),
      count(ctx, "select count(*) as n from audit_logs where account_id = ? and entity_type = 'resource'", [a.accountId]),
    ]);
    expect(await rows()).toEqual([2, 2, 2]);
    expect(await jobTotal()).toBe(jobsBefore + 2);

    // The first create finishes (as a worker would end it); another create takes its place among the unfinished.
    const finish = (where: string, params: unknown[]) => Promise.all([
      sql(ctx, `update operations set status = 'succeeded', step = 'done', finished_at = now() where ${where}`, params),
      sql(ctx, `update resources set status = 'active' where id in (select resource_id from operations where ${where})`, params),
    ]);
    await finish('resource_id = ?', [first.json.resource.id]);
    expect((await a.call('POST', '/v1/resources', a.vm('third'))).status).toBe(202);
    // Updates and destroys are operations too.
    expectQuotaRefusal(await a.call('PATCH', `/v1/resources/${first.json.resource.id}`, { spec: { size: 'large' } }), 'SKYLOFT_QUOTA_ACTIVE_OPERATIONS');
    expectQuotaRefusal(await a.call('DELETE', `/v1/resources/${first.json.resource.id}`), 'SKYLOFT_QUOTA_ACTIVE_OPERATIONS');
    expect(await rows()).toEqual([3, 3, 3]);

    // Everything finishes: three live resources, one more allowed, and eight creates race for it.
    await finish('account_id = ?', [a.accountId]);
    const more = await Promise.all(Array.from({ length: 8 }, (_, i) => a.call('POST', '/v1/resources', a.vm(`more-${i}`))));
    expect(tally(more)).toEqual({ 202: 1, 422: 7 });
    for (const refused of more.filter((x) => x.status !== 202)) expectQuotaRefusal(refused, 'SKYLOFT_QUOTA_RESOURCES');
    expect(more.find((x) => x.status === 422)!.json.error.details).toMatchObject({ quota: 'resources', limit: 4, used: 4 });
    expect(await rows()).toEqual([4, 4, 4]);
    expect(await jobTotal()).toBe(jobsBefore + 4);
  });
});

describe('schedule floors and paid collections', () => {
  let ctx: TestContext;
  let baseUrl: string;

  beforeAll(async () => {
    ctx = await createTestContext({ SKYLOFT_QUOTA_COST_COLLECTIONS_PER_HOUR: '3' }); // the floors at their defaults
    baseUrl = await listen(ctx);
  });
  afterAll(() => ctx?.close());

  it('refuse schedules more frequent than the floors (422 naming the variable) and change nothing', async () => {
    const a = await tenant(ctx, baseUrl);
    const before = (await a.call('GET', '/v1/schedules')).json;
    const schedulers = async () => {
      const sync = (await ctx.deps.queues.get('inventory').getJobSchedulers(0, -1)).find((s) => s.key === `inventory_${a.credentialId}`);
      const cost = (await ctx.deps.queues.get('cost').getJobSchedulers(0, -1)).find((s) => s.key === `cost_${a.credentialId}`);
      return { every: sync?.every, pattern: cost?.pattern };
    };
    const registered = await schedulers();
    expect(registered).toEqual({ every: 15 * 60_000, pattern: '0 2 * * *' });
    for (const [body, variable] of [
      [{ inventoryMinutes: 1 }, 'SKYLOFT_MIN_INVENTORY_MINUTES'],
      [{ healthMinutes: 1 }, 'SKYLOFT_MIN_HEALTH_MINUTES'],
      [{ costCron: '* * * * *' }, 'SKYLOFT_MIN_COST_INTERVAL'],
      [{ costCron: '*/30 * * * *' }, 'SKYLOFT_MIN_COST_INTERVAL'],
      // Four a day on average, but two of them three hours apart: the shortest gap counts.
      [{ costCron: '0 0,3,12,18 * * *' }, 'SKYLOFT_MIN_COST_INTERVAL'],
      [{ inventoryMinutes: 60, costCron: '0 * * * *' }, 'SKYLOFT_MIN_COST_INTERVAL'],
    ] as const) {
      expectQuotaRefusal(await a.call('PUT', '/v1/schedules', body), variable);
    }
    expect((await a.call('GET', '/v1/schedules')).json).toEqual(before);
    expect(await schedulers()).toEqual(registered);
    expect(await count(ctx, "select count(*) as n from audit_logs where account_id = ? and action = 'schedules.update'", [a.accountId])).toBe(0);

    // At the floors is fine.
    const ok = await a.call('PUT', '/v1/schedules', { inventoryMinutes: 5, healthMinutes: 2, costCron: '0 */6 * * *' });
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);
    expect(await schedulers()).toEqual({ every: 5 * 60_000, pattern: '0 */6 * * *' });
  });

  it('run a schedule stored below the floors (before they existed) at the floors', async () => {
    const a = await tenant(ctx, baseUrl);
    await sql(ctx, "insert into account_schedules (account_id, inventory_minutes, health_minutes, cost_cron) values (?, 1, 1, '* * * * *')", [a.accountId]);
    expect((await a.call('GET', '/v1/schedules')).json).toEqual({ inventoryMinutes: 5, healthMinutes: 2, costCron: '0 2 * * *' });
    await ctx.deps.schedules.reconcile(ctx.orm.em.fork());
    const sync = (await ctx.deps.queues.get('inventory').getJobSchedulers(0, -1)).find((s) => s.key === `inventory_${a.credentialId}`);
    expect(sync?.every).toBe(5 * 60_000);
  });

  it('answer manual cost collections beyond SKYLOFT_QUOTA_COST_COLLECTIONS_PER_HOUR with 429 and Retry-After, writing nothing, also when six race', async () => {
    const a = await tenant(ctx, baseUrl);
    const manualRuns = () => count(ctx, "select count(*) as n from cost_runs where account_id = ? and trigger = 'manual'", [a.accountId]);
    const answers = await Promise.all(Array.from({ length: 6 }, () => a.call('POST', '/v1/costs/collect', { credentialId: a.credentialId })));
    expect(tally(answers)).toEqual({ 202: 3, 429: 3 });
    for (const refused of answers.filter((x) => x.status === 429)) {
      expectQuotaRefusal(refused, 'SKYLOFT_QUOTA_COST_COLLECTIONS_PER_HOUR', 429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(await manualRuns()).toBe(3);
  });
});
