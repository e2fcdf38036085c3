import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Operation } from '../../src/modules/provisioning/entities.ts';
import { ProvisioningService } from '../../src/modules/provisioning/service.ts';
import { Queues } from '../../src/queue/catalog.ts';
import { createRedis } from '../../src/queue/redis.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { freePort } from '../../src/shared/net.ts';
import type { Runtime } from '../../src/runtime.ts';
import { startWorkers } from '../../workers/index.ts';
import { reconcileOnce } from '../../workers/reconciler.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';
import { insertResource } from '../support/resources.ts';

let ctx: TestContext;
let rt: Runtime;
let stopWorkers: () => Promise<void>;
let key: string;
let credentialId: string;

beforeAll(async () => {
  ctx = await createTestContext();
  rt = { ...ctx.deps, ring: ctx.ring, close: async () => {} };
  stopWorkers = await startWorkers(rt);
  key = (await ctx.bootstrap()).apiKey;
  credentialId = (await call('POST', '/v1/credentials', { name: 'sandbox', provider: 'sandbox', secret: {} })).json().id;
}, 60_000);
afterAll(async () => {
  await stopWorkers();
  await ctx.close();
});

function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  return ctx.app.inject({ method: method as 'POST', url, headers: { ...bearer(key), ...headers }, ...(body !== undefined && { payload: body as object }) });
}

async function settle(operationId: string, until: Operation['status'][] = ['succeeded', 'failed', 'canceled'], timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const op = (await call('GET', `/v1/operations/${operationId}`)).json();
    if (until.includes(op.status)) return op;
    if (Date.now() > deadline) throw new Error(`operation ${operationId} still ${op.status}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const vm = (name: string, spec: Record<string, unknown> = { size: 'small' }, extra: Record<string, unknown> = {}) => ({
  name,
  provider: 'sandbox',
  type: 'vm',
  region: 'local',
  credentialId,
  spec,
  ...extra,
});

describe('a sandbox resource through the whole pipeline', () => {
  it('is created, updated and destroyed by real terraform, with one state version per change', async () => {
    const created = await call('POST', '/v1/resources', vm('web-1'));
    expect(created.statusCode, created.body).toBe(202);
    const { resource, operation } = created.json();
    expect(operation).toMatchObject({ kind: 'apply', status: 'queued' });
    const done = await settle(operation.id);
    expect(done.status, done.error).toBe('succeeded');
    expect(done.planSummary).toEqual({ add: 1, change: 0, destroy: 0 });

    const active = (await call('GET', `/v1/resources/${resource.id}`)).json();
    expect(active).toMatchObject({ status: 'active', outputs: { id: expect.any(String), name: 'web-1' } });
    const v1 = (await call('GET', `/v1/resources/${resource.id}/states`)).json().items;
    expect(v1.length).toBeGreaterThanOrEqual(1);
    const log = await call('GET', `/v1/operations/${operation.id}/log`);
    expect(log.body).toContain('Apply complete!');

    const updated = await call('PATCH', `/v1/resources/${resource.id}`, { spec: { size: 'large' } });
    expect(updated.statusCode, updated.body).toBe(202);
    const updateOp = await settle(updated.json().operation.id);
    expect(updateOp.status, updateOp.error).toBe('succeeded');
    expect((await call('GET', `/v1/resources/${resource.id}`)).json().spec).toEqual({ size: 'large' });
    const v2 = (await call('GET', `/v1/resources/${resource.id}/states`)).json().items;
    expect(v2[0].version).toBeGreaterThan(v1[0].version);
    expect(v2[0].serial).toBeGreaterThan(v1[0].serial);

    const destroyed = await call('DELETE', `/v1/resources/${resource.id}`);
    expect(destroyed.statusCode).toBe(202);
    expect((await settle(destroyed.json().operation.id)).status).toBe('succeeded');
    expect((await call('GET', `/v1/resources/${resource.id}`)).json().status).toBe('destroyed');
  }, 120_000);

  it('waits for approval when autoApprove is false, then applies what was approved', async () => {
    const { operation, resource } = (await call('POST', '/v1/resources', vm('needs-approval', { size: 's' }, { autoApprove: false }))).json();
    const waiting = await settle(operation.id, ['awaiting_approval', 'failed']);
    expect(waiting).toMatchObject({ status: 'awaiting_approval', planSummary: { add: 1, change: 0, destroy: 0 } });
    expect((await call('GET', `/v1/resources/${resource.id}/states`)).json().items).toHaveLength(0);
    const approved = await call('POST', `/v1/operations/${operation.id}/approve`);
    expect(approved.statusCode, approved.body).toBe(200);
    expect((await settle(operation.id)).status).toBe('succeeded');
    expect((await call('POST', `/v1/operations/${operation.id}/approve`)).statusCode).toBe(409);
  }, 90_000);

  it('feeds a managed network\'s outputs into a vm that names it', async () => {
    const net = (await call('POST', '/v1/resources', { ...vm('net-1'), type: 'network', spec: { cidr: '10.0.0.0/16' } })).json();
    expect((await settle(net.operation.id)).status).toBe('succeeded');
    const networkId = (await call('GET', `/v1/resources/${net.resource.id}`)).json().outputs.network_id;
    const server = (await call('POST', '/v1/resources', vm('in-net', { networkResourceId: net.resource.id }))).json();
    expect((await settle(server.operation.id)).status).toBe('succeeded');
    expect((await call('GET', `/v1/resources/${server.resource.id}`)).json().outputs.network_id).toBe(networkId);
    expect((await call('DELETE', `/v1/resources/${net.resource.id}`)).statusCode).toBe(409);
  }, 90_000);

  it("never feeds another account's network into a vm, even when an operation's stored spec names one", async () => {
    const other = await ctx.bootstrap();
    const theirs = await insertResource(ctx, other.accountId, { type: 'network', outputs: { network_id: 'their-secret-network' } });
    const { operation, resource } = (await call('POST', '/v1/resources', vm('borrower', { size: 's' }, { autoApprove: false }))).json();
    expect((await settle(operation.id, ['awaiting_approval', 'failed'])).status).toBe('awaiting_approval');
    // Through the API the id answers 404 (test/integration/isolation.test.ts); here the stored spec itself names it.
    await ctx.orm.em.fork().getConnection().execute('update operations set spec = ? where id = ?', [JSON.stringify({ size: 's', networkResourceId: theirs.id }), operation.id]);
    expect((await call('POST', `/v1/operations/${operation.id}/approve`)).statusCode).toBe(200);
    const done = await settle(operation.id);
    expect(done.status).toBe('failed');
    expect(done.error).toContain('does not exist in this account');
    expect(JSON.stringify((await call('GET', `/v1/resources/${resource.id}`)).json())).not.toContain('their-secret-network');
  }, 90_000);
});

describe('accepting requests', () => {
  it('refuses, with 400 and nothing written, a spec number cdktf would read as a token reference', async () => {
    const before = (await call('GET', '/v1/resources?limit=500')).json().items.length;
    const res = await call('POST', '/v1/resources', vm('token-number', { size: 's', deep: [{ n: -1.8881545897087626e289 }] }));
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().error.details).toEqual([{ path: 'spec.deep.0.n', message: 'too large' }]);
    expect((await call('GET', '/v1/resources?limit=500')).json().items.length).toBe(before);
  });

  it('replays the same Idempotency-Key with the same body and refuses it with another body', async () => {
    const headers = { 'idempotency-key': `k-${Date.now()}` };
    const first = await call('POST', '/v1/resources', vm('idem-1'), headers);
    const again = await call('POST', '/v1/resources', vm('idem-1'), headers);
    expect(again.statusCode).toBe(202);
    expect(again.json().resource.id).toBe(first.json().resource.id);
    expect(again.json().operation.id).toBe(first.json().operation.id);
    expect((await call('POST', '/v1/resources', vm('idem-2'), headers)).statusCode).toBe(409);
    await settle(first.json().operation.id);
  }, 60_000);

  it('answers 404 for an unknown credential (another account\'s too), 422 for one of another provider and 400 for a bad spec, writing nothing', async () => {
    const before = await ctx.orm.em.fork().count(Operation, {});
    expect((await call('POST', '/v1/resources', vm('x', {}, { credentialId: '01a20000-0000-7000-8000-000000000000' }))).statusCode).toBe(404);
    expect((await call('POST', '/v1/resources', { ...vm('x'), provider: 'aws', spec: { ami: 'a', instanceType: 't3.micro' } })).statusCode).toBe(422);
    expect((await call('POST', '/v1/resources', { ...vm('x'), provider: 'aws', spec: { ami: 'a' } })).statusCode).toBe(422);
    expect((await call('POST', '/v1/resources', vm('x', { blob: 'y'.repeat(70_000) }))).statusCode).toBe(400);
    expect(await ctx.orm.em.fork().count(Operation, {})).toBe(before);
  });

  it('accepts a request while Redis is down and completes it once the reconciler runs', async () => {
    const deadRedis = createRedis(`redis://127.0.0.1:${await freePort()}`);
    const offline = new ProvisioningService(new Queues(deadRedis, ctx.config.redis.prefix), createLogger('silent'));
    const em = ctx.orm.em.fork();
    const me = (await call('GET', '/v1/me')).json();
    const actor = { kind: 'user' as const, accountId: me.account.id, userId: me.user.id, keyId: me.apiKeyId, role: 'admin' as const };
    const { operation } = await offline.create(em, actor, vm('while-redis-down') as never);
    deadRedis.disconnect();
    expect(operation.status).toBe('queued');
    expect(await reconcileOnce(rt, 0)).toBeGreaterThanOrEqual(1);
    expect((await settle(operation.id)).status).toBe('succeeded');
  }, 60_000);

  it('retries an operation whose job BullMQ failed as stalled, and fails it with the reason once its attempts are spent', async () => {
    await stopWorkers();
    const grabber = new Worker('provisioning', undefined, { connection: createRedis(ctx.config.redis.url, { forWorker: true }), prefix: ctx.config.redis.prefix, autorun: false });
    const sql = ctx.orm.em.getConnection();
    let first: { operation: { id: string } } | undefined;
    try {
      const stallAndReconcile = async (operationId: string, attempts: number) => {
        const job = await grabber.getNextJob('tok');
        expect(job?.data.operationId).toBe(operationId);
        // As BullMQ's stalled checker does: straight to failed, attempts left or not.
        await job!.moveToFailed(new UnrecoverableError('job stalled more than allowable limit'), 'tok');
        await sql.execute(`update operations set status = 'running', step = 'plan', attempts = ? where id = ?`, [attempts, operationId]);
        await reconcileOnce(rt, 0);
        return job!;
      };
      const spent = (await call('POST', '/v1/resources', vm('stalls-always'))).json();
      await stallAndReconcile(spent.operation.id, 3);
      const op = (await call('GET', `/v1/operations/${spent.operation.id}`)).json();
      expect(op.status).toBe('failed');
      expect(op.error).toMatch(/stalled/);
      expect((await call('GET', `/v1/resources/${spent.resource.id}`)).json().status).toBe('failed');

      const once: { operation: { id: string } } = (await call('POST', '/v1/resources', vm('stalls-once'))).json();
      first = once;
      const job = await stallAndReconcile(once.operation.id, 1);
      expect(await rt.queues.get('provisioning').getJobState(job.id!)).toBe('waiting');
    } finally {
      await grabber.close();
      stopWorkers = await startWorkers(rt);
    }
    expect((await settle(first!.operation.id)).status).toBe('succeeded');
  }, 90_000);

  it('cancels a queued operation before any worker runs it', async () => {
    await stopWorkers();
    try {
      const { operation, resource } = (await call('POST', '/v1/resources', vm('cancel-me'))).json();
      const canceled = await call('POST', `/v1/operations/${operation.id}/cancel`);
      expect(canceled.json().status).toBe('canceled');
      expect((await call('GET', `/v1/resources/${resource.id}`)).json().status).toBe('destroyed');
    } finally {
      stopWorkers = await startWorkers(rt);
    }
  });
});

describe('credentials in use', () => {
  it('cannot be deleted while they manage a live resource', async () => {
    const { operation } = (await call('POST', '/v1/resources', vm('keeps-credential'))).json();
    await settle(operation.id);
    const res = await call('DELETE', `/v1/credentials/${credentialId}`);
    expect(res.statusCode).toBe(409);
    expect(res.json().error.message).toMatch(/live resource/);
  }, 60_000);
});

describe('a running operation', () => {
  it('is canceled: terraform is stopped, the lock released, and the operation ends canceled', async () => {
    const { operation, resource } = (await call('POST', '/v1/resources', vm('slow', { provisionSeconds: 60 }))).json();
    await settle(operation.id, ['running']);
    // Wait until terraform is in the apply (the plan step is done), then cancel.
    const deadline = Date.now() + 30_000;
    while (!(await call('GET', `/v1/operations/${operation.id}/log`)).body.includes('Provisioning with')) {
      if (Date.now() > deadline) throw new Error('apply never started');
      await new Promise((r) => setTimeout(r, 200));
    }
    const started = Date.now();
    expect((await call('POST', `/v1/operations/${operation.id}/cancel`)).statusCode).toBe(200);
    const done = await settle(operation.id);
    expect(done.status).toBe('canceled');
    expect(Date.now() - started).toBeLessThan(20_000);
    const lock = await call('LOCK', `/v1/terraform/state/${resource.id}`, { ID: 'after-cancel', Who: 'me', Operation: 'x', Info: '', Version: '', Created: '', Path: '' });
    expect(lock.statusCode).toBe(200);
  }, 90_000);
});

describe('while Redis is unreachable', () => {
  it('the API still authenticates and accepts a create (202), leaving it queued for the reconciler', async () => {
    const deadRedis = createRedis(`redis://127.0.0.1:${await freePort()}`);
    const { buildApp } = await import('../../src/http/app.ts');
    const queues = new Queues(deadRedis, ctx.config.redis.prefix);
    const app = await buildApp({ ...ctx.deps, redis: deadRedis, queues, provisioning: new ProvisioningService(queues, createLogger('silent')) });
    try {
      const res = await app.inject({ method: 'POST', url: '/v1/resources', headers: bearer(key), payload: vm('accepted-offline') });
      expect(res.statusCode, res.body).toBe(202);
      expect(res.json().operation.status).toBe('queued');
      expect((await app.inject({ url: '/readyz' })).statusCode).toBe(503);
    } finally {
      await app.close();
      deadRedis.disconnect();
    }
  });
});

describe('concurrent requests with one Idempotency-Key', () => {
  it('all answer the same resource and operation', async () => {
    const headers = { 'idempotency-key': `race-${Date.now()}` };
    const answers = await Promise.all(Array.from({ length: 6 }, () => call('POST', '/v1/resources', vm('raced'), headers)));
    for (const a of answers) expect(a.statusCode, a.body).toBe(202);
    expect(new Set(answers.map((a) => a.json().operation.id)).size).toBe(1);
    await settle(answers[0]!.json().operation.id);
  }, 60_000);
});
