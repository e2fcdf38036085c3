import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/modules/audit/entity.ts';
import { StateVersion } from '../../src/modules/state/entities.ts';
import { acquireLock } from '../../src/modules/state/locks.ts';
import { StateStore } from '../../src/modules/state/versions.ts';
import { KeyRing } from '../../src/shared/vault.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';
import { insertResource } from '../support/resources.ts';
import { dataResource, TerraformCli } from '../support/terraform-cli.ts';

let ctx: TestContext;
let baseUrl: string;
let account: { accountId: string; apiKey: string; userId: string };

beforeAll(async () => {
  ctx = await createTestContext();
  baseUrl = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  account = await ctx.bootstrap();
});
afterAll(() => ctx.close());

const backend = (resourceId: string) => `/v1/terraform/state/${resourceId}`;
const lockInfo = (id = randomUUID(), who = 'alice@laptop') => ({ ID: id, Operation: 'OperationTypeApply', Info: '', Who: who, Version: '1.11.4', Created: new Date().toISOString(), Path: '' });
const stateBody = (serial: number, lineage: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ version: 4, terraform_version: '1.11.4', serial, lineage, outputs: {}, resources: [], ...extra });

function send(method: string, url: string, body?: string, key = account.apiKey) {
  const headers = { ...bearer(key), ...(body !== undefined && { 'content-type': 'application/json' }) };
  return ctx.app.inject({ method: method as 'POST', url, headers, ...(body !== undefined && { payload: body }) });
}

describe("terraform's own CLI against the http backend", () => {
  it('applies, stores the state as encrypted versions, and a second apply waits on the lock until force-unlock', async () => {
    const resource = await insertResource(ctx, account.accountId);
    const secretOutput = `hunter2-${randomUUID()}`;
    const tf = new TerraformCli(baseUrl, resource.id, account.apiKey, dataResource(secretOutput));
    try {
      expect((await tf.run('init')).code).toBe(0);
      const apply = await tf.run('apply', '-auto-approve');
      expect(apply.code, apply.output).toBe(0);

      const versions = (await send('GET', `/v1/resources/${resource.id}/states`)).json().items;
      expect(versions.length).toBeGreaterThanOrEqual(1);
      expect(versions[0]).toMatchObject({ serial: expect.any(Number), lineage: expect.any(String), size: expect.any(Number) });
      const latest = await send('GET', `/v1/resources/${resource.id}/states/${versions[0].version}`);
      expect(latest.json().outputs.value.value).toBe(secretOutput);
      // Stored past the provider check: terraform_data is the built-in provider's, which every resource may name.
      expect(latest.json().resources.map((r: { provider: string }) => r.provider)).toEqual(['provider["terraform.io/builtin/terraform"]']);

      const rows = await ctx.orm.em.fork().find(StateVersion, { resourceId: resource.id }, { populate: ['ciphertext'] });
      for (const row of rows) expect(Buffer.from(row.ciphertext).includes(Buffer.from(secretOutput))).toBe(false);

      // Someone else's terraform holds the lock: ours is refused, naming the holder.
      const held = lockInfo(randomUUID(), 'bob@ci-runner');
      expect((await send('LOCK', backend(resource.id), JSON.stringify(held))).statusCode).toBe(200);
      const refused = await tf.run('apply', '-auto-approve', '-lock-timeout=0s');
      expect(refused.code).not.toBe(0);
      expect(refused.output).toContain(`ID=${held.ID}`); // terraform names the holder's lock id from our 423 body

      const unlock = await tf.run('force-unlock', '-force', held.ID);
      expect(unlock.code, unlock.output).toBe(0);
      const audit = await ctx.orm.em.fork().find(AuditLog, { action: 'state.force_unlock', entityId: resource.id });
      expect(audit).toHaveLength(1);
      expect((await tf.run('apply', '-auto-approve')).code).toBe(0);
    } finally {
      tf.dispose();
    }
  }, 90_000);
});

describe('state writes', () => {
  it('refuse a different lineage and a serial going backwards with 409', async () => {
    const { id } = await insertResource(ctx, account.accountId);
    expect((await send('POST', backend(id), stateBody(3, 'lineage-a'))).statusCode).toBe(200);
    expect((await send('POST', backend(id), stateBody(4, 'lineage-b'))).statusCode).toBe(409);
    expect((await send('POST', backend(id), stateBody(2, 'lineage-a'))).statusCode).toBe(409);
    expect((await send('POST', backend(id), stateBody(3, 'lineage-a', { changed: true }))).statusCode).toBe(409);
    expect((await send('POST', backend(id), stateBody(4, 'lineage-a'))).json()).toEqual({ version: 2 });
  });

  it('refuse a body whose Content-MD5 does not match, and malformed state', async () => {
    const { id } = await insertResource(ctx, account.accountId);
    const body = stateBody(1, 'l');
    const wrongMd5 = createHash('md5').update('other').digest('base64');
    const res = await ctx.app.inject({ method: 'POST', url: backend(id), headers: { ...bearer(account.apiKey), 'content-type': 'application/json', 'content-md5': wrongMd5 }, payload: body });
    expect(res.statusCode).toBe(400);
    expect((await send('POST', backend(id), '{"serial": "x"}')).statusCode).toBe(400);
    expect((await send('POST', backend(id), 'not json')).statusCode).toBe(400);
    expect(await ctx.orm.em.fork().count(StateVersion, { resourceId: id })).toBe(0);
  });

  it('are fenced: only the live lock holder may write, and a stale holder is refused after its lease is taken over', async () => {
    const { id } = await insertResource(ctx, account.accountId);
    const workerLock = randomUUID();
    await acquireLock(ctx.orm.em.fork(), { resourceId: id, accountId: account.accountId, lockId: workerLock, holder: 'worker', info: lockInfo(workerLock, 'skyloft-worker'), ttlMs: 60_000 });

    const user = lockInfo();
    const locked = await send('LOCK', backend(id), JSON.stringify(user));
    expect(locked.statusCode).toBe(423);
    expect(locked.json()).toMatchObject({ ID: workerLock, Who: 'skyloft-worker' });
    expect((await send('POST', `${backend(id)}?ID=${user.ID}`, stateBody(1, 'l'))).statusCode).toBe(423);
    expect((await send('POST', backend(id), stateBody(1, 'l'))).statusCode).toBe(423);

    // The worker's lease lapses without renewal (moved into the past rather than waited for: no timing in tests).
    await ctx.orm.em.fork().getConnection().execute("update state_locks set expires_at = now() - interval '1 second' where resource_id = ?", [id]);
    expect((await send('LOCK', backend(id), JSON.stringify(user))).statusCode).toBe(200);
    expect((await send('POST', `${backend(id)}?ID=${workerLock}`, stateBody(1, 'l'))).statusCode).toBe(423);
    expect((await send('POST', `${backend(id)}?ID=${user.ID}`, stateBody(1, 'l'))).statusCode).toBe(200);
    expect((await send('UNLOCK', backend(id), JSON.stringify(user))).statusCode).toBe(200);
    expect((await send('POST', `${backend(id)}?ID=${user.ID}`, stateBody(2, 'l'))).statusCode).toBe(409);
  });

  it('keep only the newest versions the retention allows, and refuse bodies over the size limit', async () => {
    const small = await createTestContext({ SKYLOFT_STATE_RETENTION: '3', SKYLOFT_STATE_MAX_BYTES: '2000' });
    try {
      const owner = await small.bootstrap();
      const { id } = await insertResource(small, owner.accountId);
      const post = (body: string) => small.app.inject({ method: 'POST', url: backend(id), headers: { ...bearer(owner.apiKey), 'content-type': 'application/json' }, payload: body });
      for (let serial = 1; serial <= 5; serial++) expect((await post(stateBody(serial, 'l'))).statusCode).toBe(200);
      const versions = await small.orm.em.fork().find(StateVersion, { resourceId: id }, { orderBy: { version: 'asc' } });
      expect(versions.map((v) => v.version)).toEqual([3, 4, 5]);
      const big = await post(stateBody(6, 'l', { padding: 'x'.repeat(3000) }));
      expect(big.statusCode).toBe(413);
    } finally {
      await small.close();
    }
  });
});

describe('state access', () => {
  it('lets viewers list versions but never read contents, and hides other accounts\' states', async () => {
    const { id } = await insertResource(ctx, account.accountId);
    await send('POST', backend(id), stateBody(1, 'l'));
    const viewer = (await send('POST', '/v1/users', JSON.stringify({ email: `v-${randomUUID()}@x.io`, role: 'viewer' }))).json().apiKey.key;
    expect((await send('GET', `/v1/resources/${id}/states`, undefined, viewer)).statusCode).toBe(200);
    expect((await send('GET', `/v1/resources/${id}/states/1`, undefined, viewer)).statusCode).toBe(403);
    expect((await send('GET', backend(id), undefined, viewer)).statusCode).toBe(403);

    const other = await ctx.bootstrap();
    for (const [method, url] of [['GET', backend(id)], ['GET', `/v1/resources/${id}/states`], ['DELETE', `/v1/resources/${id}/lock`], ['LOCK', backend(id)]] as const) {
      expect((await send(method, url, method === 'LOCK' ? JSON.stringify(lockInfo()) : undefined, other.apiKey)).statusCode).toBe(404);
    }
  });

  it('answers 204 for a resource without state, and DELETE /v1/resources/:id/lock force-unlocks with an audit entry', async () => {
    const { id } = await insertResource(ctx, account.accountId);
    expect((await send('GET', backend(id))).statusCode).toBe(204);
    const held = lockInfo();
    await send('LOCK', backend(id), JSON.stringify(held));
    const res = await send('DELETE', `/v1/resources/${id}/lock`);
    expect(res.json()).toEqual({ unlocked: true, lockId: held.ID });
    expect((await send('LOCK', backend(id), JSON.stringify(lockInfo()))).statusCode).toBe(200);
    expect(await ctx.orm.em.fork().count(AuditLog, { action: 'state.force_unlock', entityId: id })).toBe(1);
  });
});

describe('master-key rotation', () => {
  it('re-seals every state version under the newest key, readable without the old one', async () => {
    const own = await createTestContext();
    try {
      const owner = await own.bootstrap();
      const { id } = await insertResource(own, owner.accountId);
      for (let serial = 1; serial <= 3; serial++) {
        const res = await own.app.inject({ method: 'POST', url: backend(id), headers: bearer(owner.apiKey), payload: stateBody(serial, 'l') });
        expect(res.statusCode).toBe(200);
      }
      const newKey = randomBytes(32).toString('base64');
      const rotating = new StateStore(new KeyRing([newKey, own.config.masterKey!]), 100);
      expect(await rotating.resealAll(own.orm.em.fork())).toBe(3);
      expect(await rotating.resealAll(own.orm.em.fork())).toBe(0);
      const onlyNew = new StateStore(new KeyRing([newKey]), 100);
      expect(JSON.parse((await onlyNew.read(own.orm.em.fork(), id, 3)).toString()).serial).toBe(3);
      await expect(new StateStore(own.ring, 100).read(own.orm.em.fork(), id, 3)).rejects.toThrow(/not in SKYLOFT_MASTER_KEY/);
    } finally {
      await own.close();
    }
  });
});
