import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../../src/modules/accounts/entities.ts';
import { AuditLog } from '../../src/modules/audit/entity.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';

type Role = 'admin' | 'operator' | 'viewer';
type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
interface Req { method: Method; url: string; payload?: object }

const ROLES: Role[] = ['admin', 'operator', 'viewer'];
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
const suffix = () => randomBytes(4).toString('hex');

let ctx: TestContext;
let adminKey: string;
let adminUserId: string;
const keys = {} as Record<Role, string>;
const userIds = {} as Record<Role, string>;

const send = (key: string, r: Req) => ctx.app.inject({ method: r.method, url: r.url, headers: bearer(key), ...(r.payload && { payload: r.payload }) });

async function ok(key: string, r: Req, status = 200) {
  const res = await send(key, r);
  expect(res.statusCode, `${r.method} ${r.url}: ${res.body}`).toBe(status);
  return res.json();
}

function expectError(res: LightMyRequestResponse, status: number) {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.json()).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) }, requestId: res.headers['x-request-id'] });
}

const newUser = (role: Role, key = adminKey): Promise<{ id: string; apiKey: { id: string; key: string } }> =>
  ok(key, { method: 'POST', url: '/v1/users', payload: { email: `${role}-${suffix()}@example.com`, role } }, 201);
const newCredential = async (key = adminKey): Promise<string> =>
  (await ok(key, { method: 'POST', url: '/v1/credentials', payload: { name: `c-${suffix()}`, provider: 'sandbox', secret: {} } }, 201)).id;
const newKey = (key: string, body: object = {}): Promise<{ id: string; key: string; role: Role }> =>
  ok(key, { method: 'POST', url: '/v1/api-keys', payload: { name: `k-${suffix()}`, ...body } }, 201);
const auditCount = () => ctx.orm.em.fork().count(AuditLog, {});
const ids = (body: { items: { id: string }[] }) => body.items.map((i) => i.id);

beforeAll(async () => {
  ctx = await createTestContext();
  const boot = await ctx.bootstrap();
  adminKey = keys.admin = boot.apiKey;
  adminUserId = userIds.admin = boot.userId;
  for (const role of ['operator', 'viewer'] as const) {
    const user = await newUser(role);
    keys[role] = user.apiKey.key;
    userIds[role] = user.id;
  }
});
afterAll(() => ctx?.close());

/**
 * Every /v1 route, the lowest role allowed, its success status, and how to build a real request for a caller
 * (fixtures are made fresh each time, so a 403 is never a 404 in disguise).
 */
const ROUTES: { route: string; minRole: Role; status: number; build: (caller: string) => Promise<Req> }[] = [
  { route: 'GET /v1/me', minRole: 'viewer', status: 200, build: async () => ({ method: 'GET', url: '/v1/me' }) },
  { route: 'POST /v1/users', minRole: 'admin', status: 201, build: async () => ({ method: 'POST', url: '/v1/users', payload: { email: `u-${suffix()}@example.com`, role: 'viewer' } }) },
  { route: 'GET /v1/users', minRole: 'admin', status: 200, build: async () => ({ method: 'GET', url: '/v1/users' }) },
  { route: 'PATCH /v1/users/:id', minRole: 'admin', status: 200, build: async () => ({ method: 'PATCH', url: `/v1/users/${(await newUser('viewer')).id}`, payload: { role: 'operator' } }) },
  { route: 'DELETE /v1/users/:id', minRole: 'admin', status: 200, build: async () => ({ method: 'DELETE', url: `/v1/users/${(await newUser('viewer')).id}` }) },
  { route: 'POST /v1/api-keys', minRole: 'viewer', status: 201, build: async () => ({ method: 'POST', url: '/v1/api-keys', payload: { name: `k-${suffix()}` } }) },
  { route: 'GET /v1/api-keys', minRole: 'viewer', status: 200, build: async () => ({ method: 'GET', url: '/v1/api-keys' }) },
  { route: 'DELETE /v1/api-keys/:id', minRole: 'viewer', status: 200, build: async (caller) => ({ method: 'DELETE', url: `/v1/api-keys/${(await newKey(caller)).id}` }) },
  { route: 'POST /v1/credentials', minRole: 'operator', status: 201, build: async () => ({ method: 'POST', url: '/v1/credentials', payload: { name: `c-${suffix()}`, provider: 'sandbox', secret: {} } }) },
  { route: 'GET /v1/credentials', minRole: 'viewer', status: 200, build: async () => ({ method: 'GET', url: '/v1/credentials' }) },
  { route: 'GET /v1/credentials/aws-external-id', minRole: 'viewer', status: 200, build: async () => ({ method: 'GET', url: '/v1/credentials/aws-external-id' }) },
  { route: 'GET /v1/credentials/:id', minRole: 'viewer', status: 200, build: async () => ({ method: 'GET', url: `/v1/credentials/${await newCredential()}` }) },
  { route: 'DELETE /v1/credentials/:id', minRole: 'operator', status: 204, build: async () => ({ method: 'DELETE', url: `/v1/credentials/${await newCredential()}` }) },
  { route: 'PUT /v1/credentials/:id/secret', minRole: 'operator', status: 200, build: async () => ({ method: 'PUT', url: `/v1/credentials/${await newCredential()}/secret`, payload: { secret: {} } }) },
  { route: 'GET /v1/audit-events', minRole: 'admin', status: 200, build: async () => ({ method: 'GET', url: '/v1/audit-events' }) },
];

const CASES = ROUTES.flatMap((r) => ROLES.map((role) => ({ ...r, role, allowed: RANK[role] >= RANK[r.minRole] })));

describe('role table', () => {
  it.each(CASES.map((c) => [`${c.route} ${c.allowed ? `succeeds with ${c.status}` : 'answers 403 and writes nothing'} for ${c.role === 'admin' ? 'an' : 'a'} ${c.role} key`, c] as const))(
    '%s',
    async (_name, c) => {
      const req = await c.build(keys[c.role]);
      const before = await auditCount();
      const res = await send(keys[c.role], req);
      if (c.allowed) {
        expect(res.statusCode, res.body).toBe(c.status);
      } else {
        expectError(res, 403);
        expect(res.json().error.code).toBe('forbidden');
        expect(await auditCount()).toBe(before);
      }
    },
  );

  it('reports each key\'s own role on GET /v1/me', async () => {
    for (const role of ROLES) {
      const me = await ok(keys[role], { method: 'GET', url: '/v1/me' });
      expect(me).toMatchObject({ role, user: { id: userIds[role], role } });
    }
  });

  it('shows a viewer only their own keys, and refuses them other users\' keys', async () => {
    const mine = await ok(keys.viewer, { method: 'GET', url: '/v1/api-keys' });
    expect(mine.items.length).toBeGreaterThan(0);
    expect(mine.items.every((k: { userId: string }) => k.userId === userIds.viewer)).toBe(true);
    expectError(await send(keys.viewer, { method: 'GET', url: `/v1/api-keys?userId=${adminUserId}` }), 403);

    const adminKeyId = (await ok(adminKey, { method: 'GET', url: '/v1/me' })).apiKeyId;
    expectError(await send(keys.viewer, { method: 'DELETE', url: `/v1/api-keys/${adminKeyId}` }), 403);
    expect((await send(adminKey, { method: 'GET', url: '/v1/me' })).statusCode).toBe(200);
  });
});

describe('key roles', () => {
  it('limits a viewer-role key of an admin to viewer rights', async () => {
    const limited = await newKey(adminKey, { role: 'viewer' });
    expect(limited.role).toBe('viewer');
    expect((await ok(limited.key, { method: 'GET', url: '/v1/me' })).role).toBe('viewer');
    await ok(limited.key, { method: 'GET', url: '/v1/credentials' });
    for (const r of [
      { method: 'POST', url: '/v1/credentials', payload: { name: `c-${suffix()}`, provider: 'sandbox', secret: {} } },
      { method: 'GET', url: '/v1/users' },
      { method: 'GET', url: '/v1/audit-events' },
      { method: 'POST', url: '/v1/users', payload: { email: `x-${suffix()}@example.com`, role: 'viewer' } },
    ] as Req[]) {
      expectError(await send(limited.key, r), 403);
    }
  });

  it('limits an operator-role key of an admin to operator rights', async () => {
    const limited = await newKey(adminKey, { role: 'operator' });
    await ok(limited.key, { method: 'POST', url: '/v1/credentials', payload: { name: `c-${suffix()}`, provider: 'sandbox', secret: {} } }, 201);
    expectError(await send(limited.key, { method: 'GET', url: '/v1/users' }), 403);
    expectError(await send(limited.key, { method: 'GET', url: '/v1/audit-events' }), 403);
  });

  it('refuses with 403 a key whose role is above its user\'s, and stores none', async () => {
    const count = (userId: string) => ctx.orm.em.fork().count(ApiKey, { userId });
    for (const [role, asked] of [['viewer', 'operator'], ['viewer', 'admin'], ['operator', 'admin']] as [Role, Role][]) {
      const before = await count(userIds[role]);
      expectError(await send(keys[role], { method: 'POST', url: '/v1/api-keys', payload: { name: `up-${suffix()}`, role: asked } }), 403);
      expect(await count(userIds[role])).toBe(before);
    }
    expect((await newKey(keys.operator, { role: 'viewer' })).role).toBe('viewer');
  });

  it('lowers what a user\'s existing keys may do when the user is demoted', async () => {
    const user = await newUser('operator');
    const cred = { method: 'POST', url: '/v1/credentials', payload: { name: `c-${suffix()}`, provider: 'sandbox', secret: {} } } as const;
    await ok(user.apiKey.key, cred, 201);
    await ok(adminKey, { method: 'PATCH', url: `/v1/users/${user.id}`, payload: { role: 'viewer' } });
    expect((await ok(user.apiKey.key, { method: 'GET', url: '/v1/me' })).role).toBe('viewer');
    expectError(await send(user.apiKey.key, { ...cred, payload: { ...cred.payload, name: `c-${suffix()}` } }), 403);
  });
});

describe('another account', () => {
  let other: { key: string; userId: string; viewerKey: string; viewerId: string; credentialId: string };
  let mine: { userId: string; keyId: string; key: string; credentialId: string; secretUpdatedAt: string };

  beforeAll(async () => {
    const user = await newUser('viewer');
    const key = await newKey(adminKey);
    const credentialId = await newCredential();
    const { secretUpdatedAt } = await ok(adminKey, { method: 'GET', url: `/v1/credentials/${credentialId}` });
    mine = { userId: user.id, keyId: key.id, key: key.key, credentialId, secretUpdatedAt };

    const boot = await ctx.bootstrap();
    const viewer = await newUser('viewer', boot.apiKey);
    other = { key: boot.apiKey, userId: boot.userId, viewerKey: viewer.apiKey.key, viewerId: viewer.id, credentialId: await newCredential(boot.apiKey) };
  });

  it('answers 404, never 403, for every route given the first account\'s ids, and changes nothing', async () => {
    const attempts: Req[] = [
      { method: 'PATCH', url: `/v1/users/${mine.userId}`, payload: { role: 'admin' } },
      { method: 'PATCH', url: `/v1/users/${mine.userId}`, payload: { active: false } },
      { method: 'DELETE', url: `/v1/users/${mine.userId}` },
      { method: 'DELETE', url: `/v1/api-keys/${mine.keyId}` },
      { method: 'GET', url: `/v1/credentials/${mine.credentialId}` },
      { method: 'PUT', url: `/v1/credentials/${mine.credentialId}/secret`, payload: { secret: {} } },
      { method: 'DELETE', url: `/v1/credentials/${mine.credentialId}` },
    ];
    for (const r of attempts) expectError(await send(other.key, r), 404);
    expectError(await send(other.viewerKey, { method: 'GET', url: `/v1/credentials/${mine.credentialId}` }), 404);
    expectError(await send(other.viewerKey, { method: 'DELETE', url: `/v1/api-keys/${mine.keyId}` }), 404);

    const users = await ok(adminKey, { method: 'GET', url: '/v1/users' });
    expect(users.items.find((u: { id: string }) => u.id === mine.userId)).toMatchObject({ role: 'viewer', active: true, deletedAt: null });
    expect((await send(mine.key, { method: 'GET', url: '/v1/me' })).statusCode).toBe(200);
    const cred = await ok(adminKey, { method: 'GET', url: `/v1/credentials/${mine.credentialId}` });
    expect(cred.secretUpdatedAt).toBe(mine.secretUpdatedAt);
  });

  it('does not list the first account\'s keys when asked for them by user id', async () => {
    const res = await send(other.key, { method: 'GET', url: `/v1/api-keys?userId=${mine.userId}` });
    expect(res.statusCode, res.body).not.toBe(403);
    if (res.statusCode === 200) expect(res.json().items).toEqual([]);
    else expectError(res, 404);
  });

  it('never shows one account\'s rows in the other\'s lists', async () => {
    const get = (key: string, url: string) => ok(key, { method: 'GET', url: `${url}${url.includes('?') ? '&' : '?'}limit=500` });

    expect(ids(await get(other.key, '/v1/users')).sort()).toEqual([other.userId, other.viewerId].sort());
    expect(ids(await get(other.key, '/v1/credentials'))).toEqual([other.credentialId]);
    const otherKeys = await get(other.key, '/v1/api-keys');
    expect(otherKeys.items.length).toBeGreaterThan(0);
    expect(otherKeys.items.every((k: { userId: string }) => k.userId === other.userId)).toBe(true);

    const mineIds = new Set([adminUserId, mine.userId, mine.keyId, mine.credentialId]);
    const audit = await get(other.key, '/v1/audit-events');
    expect(audit.items.length).toBeGreaterThan(0);
    for (const e of audit.items) {
      expect(mineIds.has(e.entity.id)).toBe(false);
      expect(mineIds.has(e.actor.userId)).toBe(false);
    }
    expect((await get(other.key, `/v1/audit-events?actor=${adminUserId}`)).items).toEqual([]);
    expect((await get(other.key, `/v1/audit-events?entityId=${mine.credentialId}`)).items).toEqual([]);

    // And the other way round.
    const theirs = [other.userId, other.viewerId, other.credentialId];
    const firstLists = [...ids(await get(adminKey, '/v1/users')), ...ids(await get(adminKey, '/v1/credentials'))];
    expect(firstLists).toEqual(expect.arrayContaining([adminUserId, mine.userId, mine.credentialId]));
    for (const id of theirs) expect(firstLists).not.toContain(id);
    const firstAudit = await get(adminKey, '/v1/audit-events');
    expect(firstAudit.items.some((e: { entity: { id: string } }) => theirs.includes(e.entity.id))).toBe(false);
  });

  it('answers 404, not 400, for ids that are not ids at all', async () => {
    for (const r of [
      { method: 'GET', url: '/v1/credentials/not-an-id' },
      { method: 'DELETE', url: '/v1/api-keys/123' },
      { method: 'PATCH', url: '/v1/users/xyz', payload: { role: 'viewer' } },
    ] as Req[]) expectError(await send(adminKey, r), 404);
  });
});
