import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertQuota } from '../../src/modules/accounts/quotas.ts';
import { AuditLog } from '../../src/modules/audit/entity.ts';
import type { Resource } from '../../src/modules/provisioning/entities.ts';
import { newId } from '../../src/shared/ids.ts';
import type { Runtime } from '../../src/runtime.ts';
import { startWorkers } from '../../workers/index.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';
import { insertResource } from '../support/resources.ts';

/**
 * Issue 19, item 2: a resource that can never apply was a dead end (its destroy failed at the same step, its credential
 * could not be deleted). Admins can now forget it, and a destroy of a resource whose state holds nothing ends at once.
 * Terraform cannot run in this file (TERRAFORM_BIN names nothing): whatever succeeds here succeeded without it.
 */

let ctx: TestContext;
let stopWorkers: () => Promise<void>;
let accountId: string;
let credentialId: string;
const keys = {} as Record<'admin' | 'operator' | 'viewer' | 'other', string>;

beforeAll(async () => {
  ctx = await createTestContext({ TERRAFORM_BIN: '/nonexistent/terraform-must-not-run' });
  const rt: Runtime = { ...ctx.deps, ring: ctx.ring, close: async () => {} };
  stopWorkers = await startWorkers(rt);
  const boot = await ctx.bootstrap();
  accountId = boot.accountId;
  keys.admin = boot.apiKey;
  for (const role of ['operator', 'viewer'] as const) {
    keys[role] = (await call('POST', '/v1/users', { email: `${role}-${hex()}@example.com`, role })).json().apiKey.key;
  }
  keys.other = (await ctx.bootstrap()).apiKey;
  credentialId = await newCredential();
}, 60_000);
afterAll(async () => {
  await stopWorkers();
  await ctx.close();
});

const hex = () => randomBytes(4).toString('hex');
const exec = <T = Record<string, unknown>>(text: string, params: unknown[] = []) => ctx.orm.em.getConnection().execute<T[]>(text, params);

function call(method: string, url: string, body?: unknown, as: keyof typeof keys = 'admin') {
  const headers = { ...bearer(keys[as]), ...(typeof body === 'string' && { 'content-type': 'application/json' }) };
  return ctx.app.inject({ method: method as 'GET', url, headers, ...(body !== undefined && { payload: body as object }) });
}

const newCredential = async (): Promise<string> => (await call('POST', '/v1/credentials', { name: `c-${hex()}`, provider: 'sandbox', secret: {} })).json().id;
const forget = (id: string, as: keyof typeof keys = 'admin') => call('DELETE', `/v1/resources/${id}?forget=true`, undefined, as);
const audited = (action: string, entityId: string) => ctx.orm.em.fork().count(AuditLog, { action, entityId });

/** A resource whose apply failed, as one that can never apply is left: failed, with what terraform saved of it. */
async function stuck(fields: Partial<Resource> = {}, state?: { resources: unknown[] }) {
  const resource = await insertResource(ctx, accountId, { credentialId, status: 'failed', ...fields });
  if (state) {
    const body = JSON.stringify({ version: 4, terraform_version: '1.11.4', serial: 1, lineage: randomUUID(), outputs: {}, ...state });
    const stored = await call('POST', `/v1/terraform/state/${resource.id}`, body);
    expect(stored.statusCode, stored.body).toBe(200);
  }
  return resource;
}

const MADE_SOMETHING = {
  resources: [{ mode: 'managed', type: 'terraform_data', name: 'vm', provider: 'provider["terraform.io/builtin/terraform"]', instances: [{ schema_version: 0, attributes: { id: 'x' } }] }],
};

async function insertOperation(resourceId: string, status: 'queued' | 'running' | 'awaiting_approval'): Promise<string> {
  const id = newId();
  await exec(`insert into operations (id, account_id, resource_id, kind, status, step, spec, log, started_at) values (?, ?, ?, 'update', ?, 'plan', '{}', '', now())`,
    [id, accountId, resourceId, status]);
  return id;
}

async function settle(operationId: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const op = (await call('GET', `/v1/operations/${operationId}`)).json();
    if (['succeeded', 'failed', 'canceled'].includes(op.status)) return op;
    if (Date.now() > deadline) throw new Error(`operation ${operationId} still ${op.status}: ${op.error}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('forgetting a resource (DELETE /v1/resources/:id?forget=true)', () => {
  it('takes it out of management without touching the cloud: readable by id, its state kept, audited, once', async () => {
    const resource = await stuck({ drift: 'drifted' }, MADE_SOMETHING);
    const forgotten = await forget(resource.id);
    expect(forgotten.statusCode, forgotten.body).toBe(200);
    expect(forgotten.json().resource).toMatchObject({ id: resource.id, status: 'forgotten', forgottenAt: expect.any(String), drift: null });
    expect(await audited('resource.forget', resource.id)).toBe(1);
    // No operation ran: nothing was asked of the cloud.
    expect((await call('GET', `/v1/operations?resourceId=${resource.id}`)).json().items).toEqual([]);

    expect((await call('GET', '/v1/resources?limit=500')).json().items.map((r: { id: string }) => r.id)).not.toContain(resource.id);
    expect((await call('GET', '/v1/resources?status=forgotten')).json().items.map((r: { id: string }) => r.id)).toContain(resource.id);
    expect((await call('GET', `/v1/resources/${resource.id}`)).json().status).toBe('forgotten');
    const versions = (await call('GET', `/v1/resources/${resource.id}/states`)).json().items;
    expect(versions).toHaveLength(1);
    expect((await call('GET', `/v1/resources/${resource.id}/states/${versions[0].version}`)).json().resources).toEqual(MADE_SOMETHING.resources);
    // Its state stays as it was: terraform may read it through the backend, never write, lock or delete it.
    expect((await call('GET', `/v1/terraform/state/${resource.id}`)).statusCode).toBe(200);
    const rewrite = JSON.stringify({ version: 4, terraform_version: '1.11.4', serial: 9, lineage: randomUUID(), outputs: {}, resources: [] });
    for (const [method, body] of [['POST', rewrite], ['DELETE', undefined], ['LOCK', JSON.stringify({ ID: randomUUID() })]] as const) {
      const refused = await call(method, `/v1/terraform/state/${resource.id}`, body);
      expect(refused.statusCode, `${method}: ${refused.body}`).toBe(409);
      expect(refused.json().error.message).toContain('forgotten');
    }
    expect((await call('GET', `/v1/resources/${resource.id}/states`)).json().items).toHaveLength(1);

    // Forgetting again answers the same resource and records nothing more; it cannot be changed any more.
    const again = await forget(resource.id);
    expect(again.statusCode).toBe(200);
    expect(again.json().resource.forgottenAt).toBe(forgotten.json().resource.forgottenAt);
    expect(await audited('resource.forget', resource.id)).toBe(1);
    expect((await call('DELETE', `/v1/resources/${resource.id}`)).statusCode).toBe(422);
    expect((await call('PATCH', `/v1/resources/${resource.id}`, { spec: {} })).statusCode).toBe(422);
  });

  it('is for admins only (operator and viewer 403), another account\'s resource is 404, and a refusal changes nothing', async () => {
    const resource = await stuck();
    for (const as of ['operator', 'viewer'] as const) {
      const res = await forget(resource.id, as);
      expect(res.statusCode, `${as}: ${res.body}`).toBe(403);
    }
    expect((await forget(resource.id, 'other')).statusCode).toBe(404);
    expect((await call('DELETE', `/v1/resources/${resource.id}?forget=true&autoApprove=false`)).statusCode).toBe(400);
    expect((await call('GET', `/v1/resources/${resource.id}`)).json().status).toBe('failed');
    expect(await audited('resource.forget', resource.id)).toBe(0);
  });

  it('frees its credential (delete allowed afterwards), its name and its place in the quota', async () => {
    const credential = await newCredential();
    const resource = await stuck({ credentialId: credential, name: `stuck-${hex()}` }, MADE_SOMETHING);
    const refused = await call('DELETE', `/v1/credentials/${credential}`);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.message).toContain('forget');

    expect((await forget(resource.id)).statusCode).toBe(200);
    const deleted = await call('DELETE', `/v1/credentials/${credential}`);
    expect(deleted.statusCode, deleted.body).toBe(204);
    // The name can be used again, and the account's resource quota no longer counts it.
    await expect(insertResource(ctx, accountId, { name: resource.name, credentialId })).resolves.toBeTruthy();
    const fresh = await ctx.bootstrap();
    await insertResource(ctx, fresh.accountId, { status: 'forgotten', forgottenAt: new Date() });
    await expect(ctx.orm.em.fork().transactional((tx) => assertQuota(tx, 'resources', 1, fresh.accountId))).resolves.toBeUndefined();
  });

  it('cancels its queued and waiting operations, and refuses (409) while one is running or its state is locked', async () => {
    const resource = await stuck({ status: 'active' });
    const running = await insertOperation(resource.id, 'running');
    const busy = await forget(resource.id);
    expect(busy.statusCode).toBe(409);
    expect(busy.json().error.message).toContain(`/v1/operations/${running}/cancel`);
    await exec(`update operations set status = 'failed', step = 'done', finished_at = now() where id = ?`, [running]);

    const lockId = randomUUID();
    const lock = JSON.stringify({ ID: lockId, Operation: 'OperationTypeApply', Info: '', Who: 'alice@laptop', Version: '1.11.4', Created: new Date().toISOString(), Path: '' });
    expect((await call('LOCK', `/v1/terraform/state/${resource.id}`, lock)).statusCode).toBe(200);
    const locked = await forget(resource.id);
    expect(locked.statusCode).toBe(409);
    expect(locked.json().error.message).toContain('alice@laptop');
    expect((await call('DELETE', `/v1/resources/${resource.id}/lock`)).statusCode).toBe(200);

    const waiting = await insertOperation(resource.id, 'awaiting_approval');
    expect((await forget(resource.id)).statusCode).toBe(200);
    expect((await call('GET', `/v1/operations/${waiting}`)).json()).toMatchObject({ status: 'canceled', error: expect.stringContaining('forgotten') });
  });

  it('turns the inventory items tagged with it from managed into unmanaged', async () => {
    const resource = await stuck({ status: 'active' });
    const externalId = `vm-${hex()}`;
    await exec(
      `insert into inventory_items (id, account_id, credential_id, provider, type, kind, region, external_id, name, status, metadata, tags,
                                    content_hash, managed_resource_id, first_seen_at, last_seen_at, last_run_id)
       values (?, ?, ?, 'sandbox', 'vm', 'sandbox:vm', 'local', ?, ?, 'running', '{}', ?, 'h', ?, now(), now(), ?)`,
      [newId(), accountId, credentialId, externalId, externalId, JSON.stringify({ 'skyloft-resource-id': resource.id }), resource.id, newId()],
    );
    const item = async () => (await call('GET', '/v1/inventory?limit=500')).json().items.find((i: { externalId: string }) => i.externalId === externalId);
    expect(await item()).toMatchObject({ classification: 'managed', resourceId: resource.id });
    expect((await forget(resource.id)).statusCode).toBe(200);
    expect(await item()).toMatchObject({ classification: 'unmanaged', resourceId: null });
  });
});

describe('destroying a resource whose state holds nothing', () => {
  it('ends destroyed at once, without terraform, as a succeeded and audited operation', async () => {
    for (const state of [undefined, { resources: [] }]) {
      const resource = await stuck({}, state);
      const res = await call('DELETE', `/v1/resources/${resource.id}?autoApprove=false`);
      expect(res.statusCode, res.body).toBe(202);
      const op = await settle(res.json().operation.id);
      expect(op, JSON.stringify(state)).toMatchObject({ kind: 'destroy', status: 'succeeded', planSummary: { add: 0, change: 0, destroy: 0 } });
      expect((await call('GET', `/v1/resources/${resource.id}`)).json()).toMatchObject({ status: 'destroyed', destroyedAt: expect.any(String) });
      expect((await call('GET', `/v1/operations/${op.id}/log`)).body).toContain('Terraform was not run');
      expect(await audited('resource.destroy', resource.id)).toBe(1);
    }
  });
});
