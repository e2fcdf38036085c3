import { randomBytes } from 'node:crypto';
import { UnrecoverableError, type Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiBudget } from '../../src/clouds/budget.ts';
import { AuditLog } from '../../src/modules/audit/entity.ts';
import { newId } from '../../src/shared/ids.ts';
import type { Runtime } from '../../src/runtime.ts';
import { InventoryProcessor } from '../../workers/inventory.ts';
import { settling } from '../../workers/job-runner.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';
import { insertResource } from '../support/resources.ts';

/**
 * Issue 19, item 3: deleting a credential used to delete its inventory and cost history with it. A delete is now soft
 * (the history stays, readable with include=deleted) and a separate, audited, admin-only purge removes it for good.
 */

let ctx: TestContext;
let accountId: string;
const keys = {} as Record<'admin' | 'operator' | 'viewer' | 'other', string>;

const DAY = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
const RANGE = `from=${DAY}&to=${new Date(Date.parse(`${DAY}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)}`;

beforeAll(async () => {
  ctx = await createTestContext();
  const boot = await ctx.bootstrap();
  accountId = boot.accountId;
  keys.admin = boot.apiKey;
  for (const role of ['operator', 'viewer'] as const) {
    keys[role] = (await call('POST', '/v1/users', { email: `${role}-${hex()}@example.com`, role }, 'admin')).json().apiKey.key;
  }
  keys.other = (await ctx.bootstrap()).apiKey;
});
afterAll(() => ctx.close());

const hex = () => randomBytes(4).toString('hex');
const exec = <T = Record<string, unknown>>(text: string, params: unknown[] = []) => ctx.orm.em.getConnection().execute<T[]>(text, params);

function call(method: string, url: string, body?: unknown, as: keyof typeof keys = 'admin') {
  return ctx.app.inject({ method: method as 'GET', url, headers: bearer(keys[as]), ...(body !== undefined && { payload: body as object }) });
}

/** A sandbox credential with history of every kind: inventory items (one tombstoned), cost lines, a health check, runs. */
async function credentialWithHistory(items = 2) {
  const created = await call('POST', '/v1/credentials', { name: `c-${hex()}`, provider: 'sandbox', secret: {} });
  expect(created.statusCode, created.body).toBe(201);
  const id = created.json().id as string;
  await exec(
    `insert into inventory_items (id, account_id, credential_id, provider, type, kind, region, external_id, name, status, metadata, tags,
                                  content_hash, first_seen_at, last_seen_at, last_run_id, deleted_at)
     select gen_random_uuid(), ?, ?, 'sandbox', 'vm', 'sandbox:vm', 'local', 'vm-' || n, 'vm-' || n, 'running', '{}', '{}', 'h',
            now(), now(), gen_random_uuid(), case when n = 1 then now() end
       from generate_series(1, ?) n`,
    [accountId, id, items],
  );
  const [key] = await exec<{ id: string }>(`insert into cost_keys (credential_id, billing_account, service, resource_id, currency) values (?, 'b', 'Compute', 'vm-2', 'USD') returning id`, [id]);
  await exec('insert into cost_data (credential_id, usage_date, key_id, amount) values (?, ?, ?, 7.25)', [id, DAY, key!.id]);
  await exec(`insert into cost_daily (account_id, credential_id, provider, usage_date, billing_period, service, currency, amount) values (?, ?, 'sandbox', ?, ?, 'Compute', 'USD', 7.25)`,
    [accountId, id, DAY, DAY.slice(0, 7)]);
  await exec(`insert into health_checks (id, account_id, credential_id, status, response_time_ms, checked_at) values (?, ?, ?, 'healthy', 12, now())`, [newId(), accountId, id]);
  await exec(`insert into sync_runs (id, account_id, credential_id, status, errors, started_at, finished_at) values (?, ?, ?, 'succeeded', '[]', now(), now())`, [newId(), accountId, id]);
  return id;
}

/** What the database holds of a credential: its row and each history table's rows. */
async function stored(id: string) {
  const count = async (table: string) => Number((await exec<{ n: string }>(`select count(*) as n from ${table} where credential_id = ?`, [id]))[0]!.n);
  const [row] = await exec<{ deleted: boolean; secret: boolean }>('select deleted_at is not null as deleted, secret_ciphertext is not null as secret from credentials where id = ?', [id]);
  const tables = ['inventory_items', 'cost_data', 'cost_daily', 'cost_keys', 'cost_runs', 'health_checks', 'sync_runs'];
  return { row, history: Object.fromEntries(await Promise.all(tables.map(async (t) => [t, await count(t)]))) as Record<string, number> };
}

const ids = (body: { items: Array<{ id?: string; credentialId?: string }> }, field: 'id' | 'credentialId' = 'id') => body.items.map((i) => i[field]);
const audited = (action: string, entityId: string) => ctx.orm.em.fork().count(AuditLog, { action, entityId });

describe('a deleted credential', () => {
  it('keeps its inventory, cost and health history, hidden by default and listed with include=deleted', async () => {
    const id = await credentialWithHistory();
    const before = await stored(id);
    expect((await call('GET', `/v1/inventory?credentialId=${id}`)).json().items).toHaveLength(1);

    const deleted = await call('DELETE', `/v1/credentials/${id}`);
    expect(deleted.statusCode, deleted.body).toBe(204);
    expect(await audited('credential.delete', id)).toBe(1);
    const after = await stored(id);
    expect(after.history).toEqual(before.history);
    expect(after.row).toEqual({ deleted: true, secret: false }); // the secret is wiped

    // The credential itself
    expect(ids((await call('GET', '/v1/credentials?limit=500')).json())).not.toContain(id);
    const listed = (await call('GET', '/v1/credentials?include=deleted&limit=500')).json().items.find((c: { id: string }) => c.id === id);
    expect(listed).toMatchObject({ id, deletedAt: expect.any(String) });
    expect((await call('GET', `/v1/credentials/${id}`)).statusCode).toBe(404);
    expect((await call('GET', `/v1/credentials/${id}?include=deleted`)).json()).toMatchObject({ id, deletedAt: expect.any(String) });

    // Inventory: the tombstoned item and the live one, only with include=deleted
    expect((await call('GET', `/v1/inventory?credentialId=${id}`)).json().items).toEqual([]);
    expect((await call('GET', '/v1/inventory?limit=500')).json().items.some((i: { credentialId: string }) => i.credentialId === id)).toBe(false);
    expect((await call('GET', `/v1/inventory?credentialId=${id}&include=deleted`)).json().items).toHaveLength(2);
    const summary = (await call('GET', '/v1/inventory/summary')).json();
    expect(summary.counts.filter((c: { provider: string }) => c.provider === 'sandbox')).toEqual([]);

    // Cost
    const cost = (include: string) => call('GET', `/v1/costs?${RANGE}&groupBy=resource&credentialId=${id}${include}`).then((r) => r.json());
    expect((await cost('')).groups).toEqual([]);
    expect((await cost('&include=deleted')).groups).toEqual([{ key: 'vm-2', currency: 'USD', amount: '7.25' }]);
    expect((await call('GET', `/v1/costs?${RANGE}&groupBy=service&include=deleted`)).json().total).toBe('7.25');

    // Health, and the runs that produced the history
    expect(ids((await call('GET', '/v1/health/providers')).json(), 'credentialId')).not.toContain(id);
    expect(ids((await call('GET', '/v1/health/providers?include=deleted')).json(), 'credentialId')).toContain(id);
    expect((await call('GET', `/v1/health/providers/${id}/history`)).statusCode).toBe(404);
    expect((await call('GET', `/v1/health/providers/${id}/history?include=deleted`)).json().items).toHaveLength(1);
    for (const runs of ['/v1/inventory/runs', '/v1/costs/runs']) {
      expect((await call('GET', `${runs}?credentialId=${id}`)).json().items, runs).toEqual([]);
      expect((await call('GET', `${runs}?credentialId=${id}&include=deleted`)).json().items.length, runs).toBeGreaterThan(0);
    }
  });

  it('cannot be used again: new resources, syncs, checks and collections answer 422; deleting it again changes nothing', async () => {
    const id = await credentialWithHistory();
    const name = (await call('GET', `/v1/credentials/${id}`)).json().name as string;
    expect((await call('DELETE', `/v1/credentials/${id}`)).statusCode).toBe(204);

    const create = await call('POST', '/v1/resources', { name: `r-${hex()}`, provider: 'sandbox', type: 'vm', region: 'local', credentialId: id, spec: {} });
    expect(create.statusCode, create.body).toBe(422);
    expect(create.json().error).toMatchObject({ code: 'credential_deleted', message: expect.stringContaining('POST /v1/credentials') });
    for (const [url, body] of [['/v1/inventory/sync', { credentialId: id }], ['/v1/health/check', { credentialId: id }], ['/v1/costs/collect', { credentialId: id }]] as const) {
      const res = await call('POST', url, body);
      expect(res.statusCode, `${url}: ${res.body}`).toBe(422);
    }
    expect((await call('PUT', `/v1/credentials/${id}/secret`, { secret: {} })).statusCode).toBe(404);
    // "Every credential" means every live one.
    expect((await call('POST', '/v1/inventory/sync')).statusCode).toBe(202);
    expect((await stored(id)).history.sync_runs).toBe(1); // the one it had
    // Schedules skip it: a scheduler Redis still had (its removal at delete time failed) goes at the next reconcile.
    await ctx.deps.schedules.upsertFor({ id, accountId }, await ctx.deps.schedules.get(ctx.orm.em.fork(), accountId));
    await ctx.deps.schedules.reconcile(ctx.orm.em.fork());
    for (const queue of ['inventory', 'health', 'cost'] as const) {
      expect((await ctx.deps.queues.get(queue).getJobSchedulers(0, -1)).some((j) => j.key.includes(id)), queue).toBe(false);
    }

    expect((await call('DELETE', `/v1/credentials/${id}`)).statusCode).toBe(204);
    expect(await audited('credential.delete', id)).toBe(1);
    // Its name is free for a new credential.
    expect((await call('POST', '/v1/credentials', { name, provider: 'sandbox', secret: {} })).statusCode).toBe(201);
  });

  it('fails a sync run accepted before the delete, in the worker, saying why, without retrying', async () => {
    const id = await credentialWithHistory();
    const runId = newId();
    await exec(`insert into sync_runs (id, account_id, credential_id, status, errors, started_at) values (?, ?, ?, 'running', '[]', now())`, [runId, accountId, id]);
    expect((await call('DELETE', `/v1/credentials/${id}`)).statusCode).toBe(204);
    const rt: Runtime = { ...ctx.deps, ring: ctx.ring, close: async () => {} };
    const worker = new InventoryProcessor(rt, ctx.deps.sync, new ApiBudget(ctx.deps.redis, ctx.config.redis.prefix));
    const job = { data: { runId, accountId }, attemptsMade: 0, opts: { attempts: 3 } } as unknown as Job;
    await expect(settling(worker.plan)(job)).rejects.toBeInstanceOf(UnrecoverableError);
    const run = (await call('GET', `/v1/inventory/runs/${runId}`)).json();
    expect(run).toMatchObject({ status: 'failed', errors: [{ error: expect.stringContaining('was deleted') }] });
  });

  it('is still refused (409) while it manages a live resource', async () => {
    const id = await credentialWithHistory();
    await insertResource(ctx, accountId, { credentialId: id, status: 'failed' });
    const res = await call('DELETE', `/v1/credentials/${id}`);
    expect(res.statusCode).toBe(409);
    expect(res.json().error.message).toMatch(/forget/);
    expect((await stored(id)).row).toEqual({ deleted: false, secret: true });
  });
});

describe('purging a credential', () => {
  it('removes its history for good, in batches, audited; admin only, and another account\'s is 404', async () => {
    const id = await credentialWithHistory(5_003); // more than one batch of inventory items
    const before = await stored(id);
    for (const as of ['operator', 'viewer'] as const) {
      const res = await call('DELETE', `/v1/credentials/${id}?purge=true`, undefined, as);
      expect(res.statusCode, `${as}: ${res.body}`).toBe(403);
    }
    expect((await call('DELETE', `/v1/credentials/${id}?purge=true`, undefined, 'other')).statusCode).toBe(404);
    expect(await stored(id)).toEqual(before);

    const purged = await call('DELETE', `/v1/credentials/${id}?purge=true`);
    expect(purged.statusCode, purged.body).toBe(204);
    const after = await stored(id);
    expect(after.row).toBeUndefined();
    expect(Object.values(after.history).every((n) => n === 0), JSON.stringify(after.history)).toBe(true);
    expect(await audited('credential.purge', id)).toBe(1);
    expect((await call('GET', `/v1/credentials/${id}?include=deleted`)).statusCode).toBe(404);
    expect((await call('DELETE', `/v1/credentials/${id}?purge=true`)).statusCode).toBe(404);
  });

  it('works on a credential already deleted', async () => {
    const id = await credentialWithHistory();
    expect((await call('DELETE', `/v1/credentials/${id}`)).statusCode).toBe(204);
    expect((await call('DELETE', `/v1/credentials/${id}?purge=true`)).statusCode).toBe(204);
    expect((await stored(id)).row).toBeUndefined();
    expect((await call('GET', `/v1/inventory?credentialId=${id}&include=deleted`)).json().items).toEqual([]);
  });
});
