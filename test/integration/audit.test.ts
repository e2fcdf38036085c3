import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/modules/audit/entity.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';

const UA = 'skyloft-audit-test/1.0 (+integration)';
const IP = '203.0.113.9';
const AWS_SECRET = `aws-secret-${randomBytes(8).toString('hex')}`;
const AWS_ROTATED = `aws-rotated-${randomBytes(8).toString('hex')}`;
const AZURE_SECRET = `azure-secret-${randomBytes(8).toString('hex')}`;
const GCP_KEY = `gcp-private-key-${randomBytes(8).toString('hex')}`;

let ctx: TestContext;
let admin: { accountId: string; userId: string; apiKey: string; keyId: string };

beforeAll(async () => {
  ctx = await createTestContext();
  const boot = await ctx.bootstrap();
  const me = await ctx.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(boot.apiKey) });
  admin = { ...boot, keyId: me.json().apiKeyId };
});
afterAll(() => ctx.close());

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
const call = (method: Method, url: string, payload?: object, key = admin.apiKey) =>
  ctx.app.inject({ method, url, remoteAddress: IP, headers: { ...bearer(key), 'user-agent': UA }, ...(payload && { payload }) });

const rowsOf = (res: LightMyRequestResponse) => ctx.orm.em.fork().find(AuditLog, { requestId: String(res.headers['x-request-id']) });
const auditCount = () => ctx.orm.em.fork().count(AuditLog, {});

/** The request wrote exactly one audit row for `action`, carrying who, what, where from and which request. */
async function expectAudited(res: LightMyRequestResponse, action: string, entityType: string, entityId: string, actor = admin) {
  expect(res.statusCode, res.body).toBeLessThan(300);
  const requestId = res.headers['x-request-id'];
  expect(requestId).toEqual(expect.any(String));
  const rows = (await rowsOf(res)).filter((r) => r.action === action);
  expect(rows).toHaveLength(1);
  const row = rows[0]!;
  expect(row).toMatchObject({
    accountId: actor.accountId,
    actorKind: 'user',
    actorUserId: actor.userId,
    actorKeyId: actor.keyId,
    entityType,
    entityId,
    ip: IP,
    userAgent: UA,
    requestId,
  });
  return row;
}

describe('audit rows for every mutation', () => {
  let userId: string;
  let keyId: string;
  let credentialId: string;

  it('user create writes one user.create row (and one api_key.create row for its first key)', async () => {
    const res = await call('POST', '/v1/users', { email: `audited-${randomBytes(3).toString('hex')}@example.com`, role: 'viewer' });
    userId = res.json().id;
    const row = await expectAudited(res, 'user.create', 'user', userId);
    expect(row.before).toBeNull();
    expect(row.after).toMatchObject({ id: userId, role: 'viewer', active: true });
    await expectAudited(res, 'api_key.create', 'api_key', res.json().apiKey.id);
    expect(await rowsOf(res)).toHaveLength(2);
    expect(JSON.stringify(await rowsOf(res))).not.toContain(res.json().apiKey.key);
  });

  it('user update writes one user.update row with the role before and after', async () => {
    const res = await call('PATCH', `/v1/users/${userId}`, { role: 'operator' });
    const row = await expectAudited(res, 'user.update', 'user', userId);
    expect(row.before).toMatchObject({ role: 'viewer' });
    expect(row.after).toMatchObject({ role: 'operator' });
    expect(await rowsOf(res)).toHaveLength(1);
  });

  it('key create writes one api_key.create row that never holds the key itself', async () => {
    const res = await call('POST', '/v1/api-keys', { name: 'audited' });
    keyId = res.json().id;
    const row = await expectAudited(res, 'api_key.create', 'api_key', keyId);
    expect(row.after).toMatchObject({ name: 'audited', revokedAt: null, prefix: res.json().key.slice(0, 12) });
    expect(JSON.stringify(row)).not.toContain(res.json().key);
    expect(await rowsOf(res)).toHaveLength(1);
  });

  it('key revoke writes one api_key.revoke row with revokedAt null before and set after', async () => {
    const res = await call('DELETE', `/v1/api-keys/${keyId}`);
    const row = await expectAudited(res, 'api_key.revoke', 'api_key', keyId);
    expect(row.before).toMatchObject({ revokedAt: null });
    expect(row.after?.revokedAt).toEqual(expect.any(String));
    expect(await rowsOf(res)).toHaveLength(1);
  });

  it('credential create, rotate and delete each write one row', async () => {
    const created = await call('POST', '/v1/credentials', { name: 'aws-audit', provider: 'aws', secret: { accessKeyId: 'AKIAAUDIT', secretAccessKey: AWS_SECRET } });
    credentialId = created.json().id;
    const c = await expectAudited(created, 'credential.create', 'credential', credentialId);
    expect(c.before).toBeNull();
    expect(c.after).toMatchObject({ name: 'aws-audit', provider: 'aws' });

    const rotated = await call('PUT', `/v1/credentials/${credentialId}/secret`, { secret: { accessKeyId: 'AKIAAUDIT2', secretAccessKey: AWS_ROTATED } });
    const r = await expectAudited(rotated, 'credential.rotate_secret', 'credential', credentialId);
    expect(r.before).toMatchObject({ name: 'aws-audit' });
    expect(r.after).toMatchObject({ name: 'aws-audit' });

    const deleted = await call('DELETE', `/v1/credentials/${credentialId}`);
    expect(deleted.statusCode).toBe(204);
    const d = await expectAudited(deleted, 'credential.delete', 'credential', credentialId);
    expect(d.before).toMatchObject({ id: credentialId, name: 'aws-audit', deletedAt: null });
    expect(d.after).toMatchObject({ id: credentialId, deletedAt: expect.any(String) }); // a soft delete: its history stays
    for (const res of [created, rotated, deleted]) expect(await rowsOf(res)).toHaveLength(1);
  });

  it('user delete writes one user.delete row showing the soft delete', async () => {
    const res = await call('DELETE', `/v1/users/${userId}`);
    const row = await expectAudited(res, 'user.delete', 'user', userId);
    expect(row.before).toMatchObject({ active: true, deletedAt: null });
    expect(row.after).toMatchObject({ active: false, deletedAt: expect.any(String) });
  });

  it('a refused mutation writes no audit row', async () => {
    const before = await auditCount();
    const res = await call('PATCH', `/v1/users/${admin.userId}`, { role: 'viewer' }); // the last admin
    expect(res.statusCode).toBe(409);
    expect(await rowsOf(res)).toHaveLength(0);
    expect(await auditCount()).toBe(before);
  });
});

describe('append-only audit table', () => {
  const sql = (q: string) => ctx.orm.em.getConnection().execute(q);

  it.each([
    ['UPDATE', 'update audit_logs set action = \'tampered\''],
    ['DELETE', 'delete from audit_logs'],
    ['TRUNCATE', 'truncate audit_logs'],
  ])('refuses %s at the database level and keeps every row', async (_op, statement) => {
    const before = await auditCount();
    expect(before).toBeGreaterThan(0);
    await expect(sql(statement)).rejects.toThrow(/append-only/);
    expect(await auditCount()).toBe(before);
    expect(await ctx.orm.em.fork().count(AuditLog, { action: 'tampered' })).toBe(0);
  });
});

describe('GET /v1/audit-events', () => {
  let other: { userId: string; keyId: string; key: string };

  beforeAll(async () => {
    const res = await call('POST', '/v1/users', { email: `second-${randomBytes(3).toString('hex')}@example.com`, role: 'admin' });
    other = { userId: res.json().id, keyId: res.json().apiKey.id, key: res.json().apiKey.key };
    expect((await call('POST', '/v1/credentials', { name: 'by-other', provider: 'sandbox', secret: {} }, other.key)).statusCode).toBe(201);
    // Another account's events must never show up here.
    const stranger = await ctx.bootstrap();
    await ctx.app.inject({ method: 'POST', url: '/v1/credentials', headers: bearer(stranger.apiKey), payload: { name: 'by-other', provider: 'sandbox', secret: {} } });
  });

  const list = async (query: string, key = admin.apiKey) => {
    const res = await call('GET', `/v1/audit-events${query}`, undefined, key);
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as { items: { id: string; action: string; actor: { userId: string; keyId: string }; entity: { type: string }; createdAt: string }[]; nextCursor: string | null };
  };

  it('filters by actor (a user id or a key id)', async () => {
    for (const actor of [other.userId, other.keyId]) {
      const { items } = await list(`?actor=${actor}`);
      expect(items.map((i) => i.action)).toEqual(['credential.create']);
    }
    const mine = await list(`?actor=${admin.userId}&limit=500`);
    expect(mine.items.length).toBeGreaterThan(5);
    expect(mine.items.every((i) => i.actor.userId === admin.userId && i.actor.keyId === admin.keyId)).toBe(true);
  });

  it('filters by action and by entity, within the caller\'s account only', async () => {
    const created = await list('?action=credential.create');
    expect(created.items.length).toBe(2); // aws-audit (by admin) and by-other; not the stranger's
    expect(created.items.every((i) => i.action === 'credential.create')).toBe(true);
    const users = await list('?entity=user');
    expect(users.items.length).toBeGreaterThanOrEqual(3);
    expect(users.items.every((i) => i.entity.type === 'user')).toBe(true);
    expect(new Set(users.items.map((i) => i.action))).toEqual(new Set(['user.create', 'user.update', 'user.delete']));
  });

  it('pages newest first: limit=2 walks the same events, in the same order, as one big page', async () => {
    const all = (await list('?limit=500')).items.map((i) => i.id);
    const walked: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await list(`?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.items.length).toBeLessThanOrEqual(2);
      walked.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(walked).toEqual(all);
    expect(new Set(walked).size).toBe(walked.length);
    const rows = await ctx.orm.em.fork().find(AuditLog, { accountId: admin.accountId }, { orderBy: { createdAt: 'desc' } });
    expect(walked.length).toBe(rows.length);
    const times = (await list('?limit=500')).items.map((i) => Date.parse(i.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it('is for admins only', async () => {
    const res = await call('POST', '/v1/users', { email: `op-${randomBytes(3).toString('hex')}@example.com`, role: 'operator' });
    const denied = await call('GET', '/v1/audit-events', undefined, res.json().apiKey.key);
    expect(denied.statusCode).toBe(403);
  });
});

describe('secrets in the audit trail', () => {
  it('never stores or answers a credential secret in any audit row', async () => {
    const made = [
      await call('POST', '/v1/credentials', { name: 'az', provider: 'azure', secret: { tenantId: 'tenant-a', clientId: 'client-a', clientSecret: AZURE_SECRET, subscriptionId: 'sub-a' } }),
      await call('POST', '/v1/credentials', { name: 'gc', provider: 'gcp', secret: { projectId: 'proj-a', serviceAccountJson: JSON.stringify({ type: 'service_account', client_email: 'sa@proj-a.iam.gserviceaccount.com', private_key: GCP_KEY }) } }),
      await call('POST', '/v1/credentials', { name: 'aws2', provider: 'aws', secret: { roleArn: 'arn:aws:iam::1:role/x', accessKeyId: 'AKIAROLE', secretAccessKey: AWS_SECRET } }),
    ];
    for (const res of made) expect(res.statusCode).toBe(201);
    const rotated = await call('PUT', `/v1/credentials/${made[0]!.json().id}/secret`, {
      secret: { tenantId: 'tenant-a', clientId: 'client-a', clientSecret: `${AZURE_SECRET}-v2`, subscriptionId: 'sub-a' },
    });
    expect(rotated.statusCode).toBe(200);

    const raw = await ctx.orm.em.getConnection().execute<{ row: unknown }[]>('select to_jsonb(a) as row from audit_logs a');
    const dump = JSON.stringify(raw);
    const api = (await call('GET', '/v1/audit-events?limit=500')).body;
    expect(dump).toContain('credential.rotate_secret');
    for (const secret of [AWS_SECRET, AWS_ROTATED, AZURE_SECRET, GCP_KEY, 'AKIAROLE', 'AKIAAUDIT']) {
      expect(dump).not.toContain(secret);
      expect(api).not.toContain(secret);
    }
  });
});
