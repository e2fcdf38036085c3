import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/modules/audit/entity.ts';
import { StateLock, StateVersion } from '../../src/modules/state/entities.ts';
import { acquireLock, releaseLock, renewLease } from '../../src/modules/state/locks.ts';
import { assertStateProviders } from '../../src/modules/state/providers.ts';
import { UnprocessableError } from '../../src/shared/errors.ts';
import { newId } from '../../src/shared/ids.ts';
import { WorkerStateServer } from '../../workers/state-server.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';
import { insertResource } from '../support/resources.ts';

let ctx: TestContext;
let account: { accountId: string; apiKey: string; userId: string };

beforeAll(async () => {
  ctx = await createTestContext();
  account = await ctx.bootstrap();
});
afterAll(() => ctx.close());

const BUILTIN = 'provider["terraform.io/builtin/terraform"]';
const AWS = 'provider["registry.terraform.io/hashicorp/aws"]';
const EVIL = 'provider["evil.example.com/attacker/evil"]';

const backend = (resourceId: string) => `/v1/terraform/state/${resourceId}`;
const resource = (provider: unknown, type = 'terraform_data') => ({ mode: 'managed', type, name: 'x', provider, instances: [{ schema_version: 0, attributes: { id: 'x' } }] });
/** A state as terraform 1.11 writes it, with one resource per provider reference given. */
const stateBody = (serial: number, providers: unknown[] = [BUILTIN], extra: Record<string, unknown> = {}) =>
  JSON.stringify({ version: 4, terraform_version: '1.11.4', serial, lineage: 'lineage-1', outputs: {}, resources: providers.map((p) => resource(p)), check_results: null, ...extra });
const lockInfo = (id: string, who = 'alice@laptop') => ({ ID: id, Operation: 'OperationTypeApply', Info: '', Who: who, Version: '1.11.4', Created: new Date().toISOString(), Path: '' });

function send(method: string, url: string, body?: string, key = account.apiKey) {
  const headers = { ...bearer(key), ...(body !== undefined && { 'content-type': 'application/json' }) };
  return ctx.app.inject({ method: method as 'POST', url, headers, ...(body !== undefined && { payload: body }) });
}

const versions = (resourceId: string) => ctx.orm.em.fork().count(StateVersion, { resourceId });
const lockRow = (resourceId: string) => ctx.orm.em.fork().findOne(StateLock, { resourceId });

describe('a stored state names only the providers of the resource', () => {
  it('refuses a foreign provider with 422 naming it and the allowed ones, and keeps the previous state', async () => {
    const { id } = await insertResource(ctx, account.accountId);
    expect((await send('POST', backend(id), stateBody(1))).statusCode).toBe(200);

    const res = await send('POST', backend(id), stateBody(2, [BUILTIN, EVIL]));
    expect(res.statusCode).toBe(422);
    expect(res.json().error.message).toContain('evil.example.com/attacker/evil');
    expect(res.json().error.message).toContain('terraform.io/builtin/terraform');
    expect(res.json().error.details).toEqual({ providers: ['evil.example.com/attacker/evil'], allowed: ['terraform.io/builtin/terraform'] });
    expect((await send('GET', backend(id))).json().serial).toBe(1);
    expect(await versions(id)).toBe(1);
  });

  it('normalizes short, legacy, aliased and module forms as terraform does, and refuses what it cannot read', async () => {
    const { id } = await insertResource(ctx, account.accountId);
    const refused: [string, unknown][] = [
      ['short form, default host', 'provider["attacker/evil"]'],
      ['bare type, namespace hashicorp', 'provider["evil"]'],
      ['aliased', `${EVIL}.west`],
      ['in a module', `module.net.module.sub.${EVIL}.west`],
      ['legacy form (terraform reads it as registry.terraform.io/-/evil)', 'provider.evil'],
      ['legacy aliased', 'module.m.provider.evil.alias'],
      ['another cloud', AWS],
      ['whitespace terraform would accept', `provider[ "evil.example.com/attacker/evil" ]`],
      ['an HCL escape', 'provider["ev\\u0069l.example.com/attacker/evil"]'],
      ['a port', 'provider["evil.example.com:8443/attacker/evil"]'],
      ['four parts', 'provider["evil.example.com/a/b/c"]'],
      ['empty', ''],
      ['not a string', 42],
      ['missing', undefined],
    ];
    for (const [what, provider] of refused) {
      const res = await send('POST', backend(id), stateBody(1, [provider]));
      expect(res.statusCode, what).toBe(422);
    }
    expect(await versions(id)).toBe(0);

    // Terraform reads these as the built-in provider: accepted.
    let serial = 0;
    for (const provider of [BUILTIN, 'provider["TERRAFORM.IO/Builtin/Terraform"]', `${BUILTIN}.other`, `module.m.${BUILTIN}`, 'provider.terraform']) {
      const res = await send('POST', backend(id), stateBody(++serial, [provider]));
      expect(res.statusCode, `${provider}: ${res.body}`).toBe(200);
    }
  });

  it('refuses keys terraform reads case-insensitively, and any state format but version 4', async () => {
    const { id } = await insertResource(ctx, account.accountId);
    const hidden = [resource(EVIL)];
    const bodies: [string, string][] = [
      ['"Resources" beside "resources"', stateBody(1, [], { Resources: hidden })],
      ['U+017F long s', stateBody(1, [], { 'reſources': hidden })],
      ['"PROVIDER" inside a resource', stateBody(1, [], { resources: [{ ...resource(BUILTIN), PROVIDER: EVIL }] })],
      ['"Version" beside "version"', JSON.stringify({ ...JSON.parse(stateBody(1)), Version: 3 })],
      ['"verſion" beside "version"', JSON.stringify({ ...JSON.parse(stateBody(1)), 'verſion': 3 })],
      ['"SERIAL" beside "serial" (fencing must compare what terraform reads)', JSON.stringify({ ...JSON.parse(stateBody(1)), SERIAL: 0 })],
      ['version 3 (terraform would upgrade its modules[].resources)', stateBody(1, [], { version: 3, modules: [{ path: ['root'], resources: { 'x.y': { provider: 'provider.evil' } } }] })],
      ['version 5', stateBody(1, [], { version: 5 })],
      ['no version', JSON.stringify({ serial: 1, lineage: 'l', resources: [] })],
      ['resources not a list', stateBody(1, [], { resources: { a: resource(EVIL) } })],
      ['a resource that is not an object', stateBody(1, [], { resources: [EVIL] })],
    ];
    for (const [what, body] of bodies) {
      const res = await send('POST', backend(id), body);
      expect(res.statusCode, `${what}: ${res.body}`).toBe(422);
    }
    expect(await versions(id)).toBe(0);
  });

  it('accepts an aws state for an aws resource, and refuses another cloud\'s provider in it', async () => {
    const { id } = await insertResource(ctx, account.accountId, { provider: 'aws', region: 'eu-west-1' });
    const aws = [AWS, 'provider["hashicorp/aws"].west', `module.net.${AWS}`, BUILTIN];
    expect((await send('POST', backend(id), stateBody(1, aws))).statusCode).toBe(200);
    for (const provider of ['provider["registry.terraform.io/hashicorp/google"]', 'provider.aws', 'provider["registry.terraform.io/evil/aws"]']) {
      expect((await send('POST', backend(id), stateBody(2, [AWS, provider]))).statusCode, provider).toBe(422);
    }
    expect(await versions(id)).toBe(1);
  });

  it("refuses the worker's own writes too (its state server goes through the same store)", async () => {
    const { id } = await insertResource(ctx, account.accountId);
    const lockId = `skyloft-operation-${randomUUID()}`;
    await acquireLock(ctx.orm.em.fork(), { resourceId: id, accountId: account.accountId, lockId, holder: 'worker', info: lockInfo(lockId, 'skyloft-worker'), ttlMs: 60_000 });
    const server = new WorkerStateServer(ctx.orm, ctx.deps.state, ctx.config.stateMaxBytes);
    await server.start();
    const { env, revoke } = server.grant({ accountId: account.accountId, resourceId: id, lockId });
    try {
      const post = (body: string) => fetch(env.TF_HTTP_ADDRESS!, { method: 'POST', body, headers: { authorization: `Basic ${Buffer.from(`x:${env.TF_HTTP_PASSWORD}`).toString('base64')}` } });
      const refused = await post(stateBody(1, [EVIL]));
      expect(refused.status).toBe(422);
      expect(await refused.text()).toContain('evil.example.com/attacker/evil');
      expect((await post(stateBody(1))).status).toBe(200);
    } finally {
      revoke();
      await server.stop();
    }
  });

  it('lets the worker refuse, before running terraform, a state stored before the check existed', async () => {
    const { id } = await insertResource(ctx, account.accountId);
    const em = ctx.orm.em.fork();
    expect(() => assertStateProviders(null, 'sandbox')).not.toThrow();
    // Planted the way an old Skyloft stored it: sealed under the state's AAD, bypassing the write path's check.
    const planted = Buffer.from(stateBody(1, [BUILTIN, EVIL]));
    em.create(StateVersion, {
      id: newId(), accountId: account.accountId, resourceId: id, version: 1, serial: 1, lineage: 'lineage-1',
      sha256: createHash('sha256').update(planted).digest('hex'), size: planted.length,
      operationId: null, ciphertext: ctx.ring.seal(planted, `state:${account.accountId}:${id}:1`),
      keyId: ctx.ring.currentKeyId, createdBy: null,
    });
    await em.flush();
    const stored = await ctx.deps.state.latest(ctx.orm.em.fork(), id);
    expect(() => assertStateProviders(stored, 'sandbox')).toThrow(UnprocessableError);
    expect(() => assertStateProviders(stored, 'sandbox')).toThrow(/evil\.example\.com\/attacker\/evil.*terraform\.io\/builtin\/terraform/);
    // A clean newer version (pushed by an operator to repair it) passes.
    expect((await send('POST', backend(id), stateBody(2))).statusCode).toBe(200);
    const repaired = await ctx.deps.state.latest(ctx.orm.em.fork(), id);
    expect(() => assertStateProviders(repaired, 'sandbox')).not.toThrow();
  });
});

describe("a user's request never acts under a worker's lock", () => {
  async function workerLocked() {
    const { id } = await insertResource(ctx, account.accountId);
    expect((await send('POST', backend(id), stateBody(1))).statusCode).toBe(200);
    const lockId = `skyloft-operation-${randomUUID()}`;
    const info = lockInfo(lockId, 'skyloft-worker@1234');
    await acquireLock(ctx.orm.em.fork(), { resourceId: id, accountId: account.accountId, lockId, holder: 'worker', info, ttlMs: 60_000 });
    return { id, lockId, before: (await lockRow(id))! };
  }

  const stillTheWorkers = async (id: string, lockId: string, before: StateLock) => {
    const lock = await lockRow(id);
    expect(lock).toMatchObject({ lockId, holder: 'worker', info: before.info, expiresAt: before.expiresAt, createdBy: null });
  };

  it('POST ?ID=<worker lock id> answers 423 with the holder and stores nothing', async () => {
    const { id, lockId, before } = await workerLocked();
    const res = await send('POST', `${backend(id)}?ID=${lockId}`, stateBody(2));
    expect(res.statusCode).toBe(423);
    expect(res.json()).toMatchObject({ ID: lockId, Who: 'skyloft-worker@1234' });
    expect(await versions(id)).toBe(1);
    await stillTheWorkers(id, lockId, before);
  });

  it('LOCK with the worker lock id answers 423 and does not take over the lease', async () => {
    const { id, lockId, before } = await workerLocked();
    const res = await send('LOCK', backend(id), JSON.stringify(lockInfo(lockId)));
    expect(res.statusCode).toBe(423);
    expect(res.json()).toMatchObject({ ID: lockId, Who: 'skyloft-worker@1234' });
    await stillTheWorkers(id, lockId, before);
    expect(await renewLease(ctx.orm.em.fork(), id, lockId, 60_000)).toBe(true);
  });

  it('UNLOCK with the worker lock id answers 423 and the lock stays held; force-unlock still works, audited', async () => {
    const { id, lockId, before } = await workerLocked();
    const res = await send('UNLOCK', backend(id), JSON.stringify(lockInfo(lockId)));
    expect(res.statusCode).toBe(423);
    expect(res.json()).toMatchObject({ ID: lockId });
    await stillTheWorkers(id, lockId, before);

    expect((await send('UNLOCK', backend(id), '')).json()).toEqual({ unlocked: true });
    expect(await lockRow(id)).toBeNull();
    expect(await ctx.orm.em.fork().count(AuditLog, { action: 'state.force_unlock', entityId: id })).toBe(1);
  });

  it("the worker itself still writes, renews and releases under its lock", async () => {
    const { id, lockId } = await workerLocked();
    await ctx.deps.state.write(ctx.orm.em.fork(), { accountId: account.accountId, resourceId: id, body: Buffer.from(stateBody(2)), lockId, holder: 'worker' });
    expect(await versions(id)).toBe(2);
    await releaseLock(ctx.orm.em.fork(), id, lockId, 'worker');
    expect(await lockRow(id)).toBeNull();
  });

  it("another account presenting the id finds no such resource", async () => {
    const { id, lockId, before } = await workerLocked();
    const other = await ctx.bootstrap();
    expect((await send('POST', `${backend(id)}?ID=${lockId}`, stateBody(2), other.apiKey)).statusCode).toBe(404);
    expect((await send('LOCK', backend(id), JSON.stringify(lockInfo(lockId)), other.apiKey)).statusCode).toBe(404);
    expect((await send('UNLOCK', backend(id), JSON.stringify(lockInfo(lockId)), other.apiKey)).statusCode).toBe(404);
    await stillTheWorkers(id, lockId, before);
  });

  it("an expired lock's id grants nothing: the user's own is stale, and a lapsed worker lease taken by a user stays the user's", async () => {
    const { id } = await insertResource(ctx, account.accountId);
    const expire = () => ctx.orm.em.fork().getConnection().execute("update state_locks set expires_at = now() - interval '1 second' where resource_id = ?", [id]);

    const mine = randomUUID();
    expect((await send('LOCK', backend(id), JSON.stringify(lockInfo(mine)))).statusCode).toBe(200);
    await expire();
    expect((await send('POST', `${backend(id)}?ID=${mine}`, stateBody(1))).statusCode).toBe(409);
    expect(await versions(id)).toBe(0);

    // A worker's lease lapses; a user then LOCKs under the worker's id: a user lock, which the worker cannot renew,
    // write under or release as its own.
    const lockId = `skyloft-operation-${randomUUID()}`;
    await acquireLock(ctx.orm.em.fork(), { resourceId: id, accountId: account.accountId, lockId, holder: 'worker', info: lockInfo(lockId, 'skyloft-worker'), ttlMs: 60_000 });
    await expire();
    expect((await send('LOCK', backend(id), JSON.stringify(lockInfo(lockId)))).statusCode).toBe(200);
    expect(await lockRow(id)).toMatchObject({ lockId, holder: 'user' });
    expect(await renewLease(ctx.orm.em.fork(), id, lockId, 60_000)).toBe(false);
    await expect(ctx.deps.state.write(ctx.orm.em.fork(), { accountId: account.accountId, resourceId: id, body: Buffer.from(stateBody(1)), lockId, holder: 'worker' })).rejects.toMatchObject({ httpStatus: 423 });
    await expect(releaseLock(ctx.orm.em.fork(), id, lockId, 'worker')).rejects.toMatchObject({ httpStatus: 423 });
    expect(await lockRow(id)).toMatchObject({ lockId, holder: 'user' });
  });
});
