import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, User } from '../../src/modules/accounts/entities.ts';
import { AuditLog } from '../../src/modules/audit/entity.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';

let ctx: TestContext;
let admin: { accountId: string; userId: string; apiKey: string };

beforeAll(async () => {
  ctx = await createTestContext();
  admin = await ctx.bootstrap();
});
afterAll(() => ctx.close());

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
const call = (method: Method, url: string, key: string, payload?: object) =>
  ctx.app.inject({ method, url, headers: bearer(key), ...(payload && { payload }) });

const email = (tag = 'u') => `${tag}-${randomBytes(4).toString('hex')}@example.com`;

/** Adds a user through the API; answers its id and its first (raw) key. */
async function addUser(role: 'admin' | 'operator' | 'viewer', key = admin.apiKey, address = email()) {
  const res = await call('POST', '/v1/users', key, { email: address, role });
  expect(res.statusCode, res.body).toBe(201);
  const body = res.json();
  return { id: body.id as string, key: body.apiKey.key as string, keyId: body.apiKey.id as string, body };
}

const newKey = (key: string, payload: object) => call('POST', '/v1/api-keys', key, payload);
const me = (key: string) => call('GET', '/v1/me', key);

/** Follows nextCursor from the first page to the last; answers every page's ids. */
async function walk(url: string, key: string, limit: number): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | null = null;
  do {
    const sep = url.includes('?') ? '&' : '?';
    const res = await call('GET', `${url}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, key);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    pages.push(body.items.map((i: { id: string }) => i.id));
    cursor = body.nextCursor;
    expect(pages.length).toBeLessThan(50);
  } while (cursor);
  return pages;
}

describe('POST /v1/users', () => {
  it('answers 201 with the user and its first API key, and that key works on GET /v1/me', async () => {
    const address = email('New');
    const { id, key, body } = await addUser('operator', admin.apiKey, address);
    expect(body).toMatchObject({ email: address.toLowerCase(), role: 'operator', active: true, deletedAt: null });
    expect(key).toMatch(/^sky_[A-Za-z0-9]{36}$/);
    expect(body.apiKey).toMatchObject({ userId: id, prefix: key.slice(0, 12), revokedAt: null });

    const who = await me(key);
    expect(who.statusCode).toBe(200);
    expect(who.json()).toMatchObject({ user: { id }, account: { id: admin.accountId }, role: 'operator', apiKeyId: body.apiKey.id });
  });

  it('refuses a duplicate email in the same account with 409, whatever its case, and adds no user', async () => {
    const address = email('dup');
    await addUser('viewer', admin.apiKey, address);
    const res = await call('POST', '/v1/users', admin.apiKey, { email: address.toUpperCase(), role: 'viewer' });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ error: { code: 'conflict' }, requestId: res.headers['x-request-id'] });
    expect(await ctx.orm.em.fork().count(User, { email: address })).toBe(1);
  });

  it('accepts an email that is already taken in another account', async () => {
    const address = email('shared');
    await addUser('viewer', admin.apiKey, address);
    const other = await ctx.bootstrap();
    const res = await call('POST', '/v1/users', other.apiKey, { email: address, role: 'viewer' });
    expect(res.statusCode).toBe(201);
  });

  it('answers one 201 and otherwise 409 (never 500) when the same email is added concurrently', async () => {
    // The race does not show on every attempt: a few rounds make a check-then-insert bug show reliably.
    for (let round = 0; round < 5; round++) {
      const address = email('race');
      const results = await Promise.all(
        Array.from({ length: 6 }, () => call('POST', '/v1/users', admin.apiKey, { email: address, role: 'viewer' })),
      );
      expect(results.map((r) => r.statusCode).sort()).toEqual([201, 409, 409, 409, 409, 409]);
      expect(await ctx.orm.em.fork().count(User, { email: address })).toBe(1);
    }
  });
});

describe('PATCH and DELETE /v1/users/:id', () => {
  it('applies a role change at once to the user\'s existing keys: the effective role is the lower of key and user', async () => {
    const u = await addUser('operator');
    expect((await me(u.key)).json().role).toBe('operator');

    expect((await call('PATCH', `/v1/users/${u.id}`, admin.apiKey, { role: 'viewer' })).statusCode).toBe(200);
    expect((await me(u.key)).json().role).toBe('viewer');
    const denied = await call('POST', '/v1/credentials', u.key, { name: 'x', provider: 'sandbox', secret: {} });
    expect(denied.statusCode).toBe(403);

    // Promoting the user does not lift a key that was issued as operator above operator.
    expect((await call('PATCH', `/v1/users/${u.id}`, admin.apiKey, { role: 'admin' })).statusCode).toBe(200);
    expect((await me(u.key)).json().role).toBe('operator');
    expect((await call('GET', '/v1/users', u.key)).statusCode).toBe(403);
  });

  it('refuses to demote, deactivate or delete the last active admin (409) and leaves it unchanged', async () => {
    const acct = await ctx.bootstrap();
    for (const [method, payload] of [['PATCH', { role: 'operator' }], ['PATCH', { active: false }], ['DELETE', undefined]] as const) {
      const res = await call(method, `/v1/users/${acct.userId}`, acct.apiKey, payload);
      expect(res.statusCode, `${method} ${JSON.stringify(payload)}`).toBe(409);
      expect(res.json().error.code).toBe('conflict');
    }
    expect((await me(acct.apiKey)).json()).toMatchObject({ role: 'admin', user: { active: true, deletedAt: null } });

    // With a second active admin the first may step down; the second is then the last one.
    const second = await addUser('admin', acct.apiKey);
    expect((await call('PATCH', `/v1/users/${acct.userId}`, acct.apiKey, { role: 'viewer' })).statusCode).toBe(200);
    expect((await call('DELETE', `/v1/users/${second.id}`, second.key)).statusCode).toBe(409);
  });

  it('deactivates, soft-deletes and revokes every key of a deleted user; those keys then answer 401', async () => {
    const u = await addUser('operator');
    const extra = await newKey(u.key, { name: 'second' });
    expect(extra.statusCode).toBe(201);

    const res = await call('DELETE', `/v1/users/${u.id}`, admin.apiKey);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: u.id, active: false });
    expect(res.json().deletedAt).toEqual(expect.any(String));

    expect((await me(u.key)).statusCode).toBe(401);
    expect((await me(extra.json().key)).statusCode).toBe(401);
    const keys = await ctx.orm.em.fork().find(ApiKey, { userId: u.id });
    expect(keys).toHaveLength(2);
    expect(keys.every((k) => k.revokedAt !== null)).toBe(true);
    const row = await ctx.orm.em.fork().findOneOrFail(User, { id: u.id });
    expect(row).toMatchObject({ active: false });
    expect(row.deletedAt).toBeInstanceOf(Date);
  });

  it('answers 404 for a user of another account and leaves that user alone', async () => {
    const other = await ctx.bootstrap();
    expect((await call('PATCH', `/v1/users/${other.userId}`, admin.apiKey, { role: 'viewer' })).statusCode).toBe(404);
    expect((await call('DELETE', `/v1/users/${other.userId}`, admin.apiKey)).statusCode).toBe(404);
    expect((await me(other.apiKey)).json()).toMatchObject({ role: 'admin', user: { active: true } });
  });
});

describe('API keys', () => {
  it('shows the key once at creation; lists carry only its prefix, and only its hash is stored', async () => {
    const u = await addUser('viewer');
    const res = await newKey(u.key, { name: 'laptop' });
    expect(res.statusCode).toBe(201);
    const created = res.json();
    expect(created.key).toMatch(/^sky_[A-Za-z0-9]{36}$/);
    expect(created).toMatchObject({ name: 'laptop', role: 'viewer', prefix: created.key.slice(0, 12), userId: u.id });
    expect((await me(created.key)).statusCode).toBe(200);

    const list = await call('GET', '/v1/api-keys', u.key);
    expect(list.statusCode).toBe(200);
    const items = list.json().items as Record<string, unknown>[];
    expect(items.map((i) => i.id)).toContain(created.id);
    for (const item of items) expect(item).not.toHaveProperty('key');
    expect(list.body).not.toContain(created.key);
    expect(list.body).not.toContain(u.key);

    const row = await ctx.orm.em.fork().findOneOrFail(ApiKey, { id: created.id });
    expect(row.keyHash).toBe(createHash('sha256').update(created.key).digest('hex'));
  });

  it('allows at most 5 active keys per user: the 6th is 409, and a revoked or expired key frees a slot', async () => {
    const u = await addUser('viewer'); // its first key is active key 1
    const ids: string[] = [];
    for (let i = 2; i <= 5; i++) {
      const res = await newKey(u.key, { name: `k${i}` });
      expect(res.statusCode, res.body).toBe(201);
      ids.push(res.json().id);
    }
    const sixth = await newKey(u.key, { name: 'k6' });
    expect(sixth.statusCode).toBe(409);
    expect(sixth.json().error.code).toBe('conflict');

    expect((await call('DELETE', `/v1/api-keys/${ids[0]}`, u.key)).statusCode).toBe(200);
    expect((await newKey(u.key, { name: 'k6' })).statusCode).toBe(201);
    expect((await newKey(u.key, { name: 'k7' })).statusCode).toBe(409);

    await ctx.orm.em.fork().nativeUpdate(ApiKey, { id: ids[1] }, { expiresAt: new Date(Date.now() - 1000) });
    expect((await newKey(u.key, { name: 'k7' })).statusCode).toBe(201);
    expect((await newKey(u.key, { name: 'k8' })).statusCode).toBe(409);
  });

  it('keeps key names unique per user among unrevoked keys (409), reusable after revoke and by another user', async () => {
    const u = await addUser('viewer');
    const first = await newKey(u.key, { name: 'ci' });
    expect(first.statusCode).toBe(201);
    expect((await newKey(u.key, { name: 'ci' })).statusCode).toBe(409);
    expect((await newKey(u.key, { name: '  ci ' })).statusCode).toBe(409);

    const v = await addUser('viewer');
    expect((await newKey(v.key, { name: 'ci' })).statusCode).toBe(201);

    expect((await call('DELETE', `/v1/api-keys/${first.json().id}`, u.key)).statusCode).toBe(200);
    expect((await me(first.json().key)).statusCode).toBe(401);
    expect((await newKey(u.key, { name: 'ci' })).statusCode).toBe(201);
  });

  it('never lets concurrent requests pass the 5-key limit or share a live key name (409, never 500)', async () => {
    const u = await addUser('viewer');
    const many = await Promise.all(Array.from({ length: 8 }, (_, i) => newKey(u.key, { name: `c${i}` })));
    expect(many.map((r) => r.statusCode).sort()).toEqual([201, 201, 201, 201, 409, 409, 409, 409]);
    const v = await addUser('viewer');
    const same = await Promise.all(Array.from({ length: 4 }, () => newKey(v.key, { name: 'same' })));
    expect(same.map((r) => r.statusCode).sort()).toEqual([201, 409, 409, 409]);
  });

  it('answers 400 for an expiresAt in the past and creates no key; a future one is kept', async () => {
    const u = await addUser('viewer');
    const before = await ctx.orm.em.fork().count(ApiKey, { userId: u.id });
    const res = await newKey(u.key, { name: 'old', expiresAt: new Date(Date.now() - 60_000).toISOString() });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'validation_failed' }, requestId: expect.any(String) });
    expect(await ctx.orm.em.fork().count(ApiKey, { userId: u.id })).toBe(before);

    const later = new Date(Date.now() + 3_600_000).toISOString();
    const ok = await newKey(u.key, { name: 'later', expiresAt: later });
    expect(ok.statusCode).toBe(201);
    expect(ok.json().expiresAt).toBe(later);
  });

  it('answers 404 when revoking another account\'s key, and that key keeps working', async () => {
    const other = await ctx.bootstrap();
    const otherKeyId = (await me(other.apiKey)).json().apiKeyId;
    expect((await call('DELETE', `/v1/api-keys/${otherKeyId}`, admin.apiKey)).statusCode).toBe(404);
    expect((await me(other.apiKey)).statusCode).toBe(200);
  });
});

describe('POST /v1/users/:id/api-keys', () => {
  const issue = (userId: string, payload: object, key = admin.apiKey) => call('POST', `/v1/users/${userId}/api-keys`, key, payload);

  it('lets an admin give a reactivated user (whose keys deactivation revoked) a new key: 201, shown once, audited, working', async () => {
    const u = await addUser('operator');
    expect((await call('PATCH', `/v1/users/${u.id}`, admin.apiKey, { active: false })).statusCode).toBe(200);
    expect((await me(u.key)).statusCode).toBe(401);
    expect((await call('PATCH', `/v1/users/${u.id}`, admin.apiKey, { active: true })).statusCode).toBe(200);
    // Reactivating gives no key back.
    expect((await me(u.key)).statusCode).toBe(401);

    const res = await issue(u.id, { name: 'after-reactivation' });
    expect(res.statusCode, res.body).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({ userId: u.id, name: 'after-reactivation', role: 'operator', prefix: body.key.slice(0, 12), revokedAt: null });
    expect(body.key).toMatch(/^sky_[A-Za-z0-9]{36}$/);
    expect((await me(body.key)).json()).toMatchObject({ user: { id: u.id }, role: 'operator', apiKeyId: body.id });

    // Shown once: lists and the stored row hold only the prefix and the hash.
    const listed = await call('GET', `/v1/api-keys?userId=${u.id}`, admin.apiKey);
    expect(listed.body).not.toContain(body.key);
    const row = await ctx.orm.em.fork().findOneOrFail(ApiKey, { id: body.id });
    expect(row.keyHash).toBe(createHash('sha256').update(body.key).digest('hex'));
    const audit = await ctx.orm.em.fork().findOneOrFail(AuditLog, { entityId: body.id });
    expect(audit).toMatchObject({ action: 'api_key.create', actorUserId: admin.userId, accountId: admin.accountId, after: { userId: u.id } });
    expect(JSON.stringify(audit)).not.toContain(body.key);
  });

  it('takes a lower role and an expiry, and refuses a role above the user\'s (422) or a past expiry (400)', async () => {
    const u = await addUser('operator');
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    expect((await issue(u.id, { name: 'reader', role: 'viewer', expiresAt })).json()).toMatchObject({ role: 'viewer', expiresAt });
    const above = await issue(u.id, { name: 'boss', role: 'admin' });
    expect(above.statusCode).toBe(422);
    expect(above.json().error.message).toContain('change the user\'s role first');
    expect((await issue(u.id, { name: 'old', expiresAt: '2000-01-01T00:00:00Z' })).statusCode).toBe(400);
    expect((await issue(u.id, { name: 'x', colour: 'red' })).statusCode).toBe(400);
    expect(await ctx.orm.em.fork().count(ApiKey, { userId: u.id, name: { $in: ['boss', 'old', 'x'] } })).toBe(0);
  });

  it('keeps the 5-active-keys limit (409) and refuses a deactivated or deleted user with a message saying what to do (409)', async () => {
    const u = await addUser('viewer');
    for (let i = 1; i < 5; i++) expect((await issue(u.id, { name: `k${i}` })).statusCode).toBe(201);
    const sixth = await issue(u.id, { name: 'k5' });
    expect(sixth.statusCode).toBe(409);
    expect(sixth.json().error.message).toContain('at most 5 active');

    const off = await addUser('viewer');
    await call('PATCH', `/v1/users/${off.id}`, admin.apiKey, { active: false });
    const deactivated = await issue(off.id, { name: 'k' });
    expect(deactivated.statusCode).toBe(409);
    expect(deactivated.json().error.message).toContain('reactivate it first');

    const gone = await addUser('viewer');
    await call('DELETE', `/v1/users/${gone.id}`, admin.apiKey);
    expect((await issue(gone.id, { name: 'k' })).statusCode).toBe(409);
    expect(await ctx.orm.em.fork().count(ApiKey, { userId: { $in: [off.id, gone.id] }, revokedAt: null })).toBe(0);
  });

  it('answers 404 for another account\'s user (or no user) and 403 to operators and viewers, issuing nothing', async () => {
    const other = await ctx.bootstrap();
    const before = await ctx.orm.em.fork().count(ApiKey, { userId: other.userId });
    const res = await issue(other.userId, { name: 'intruder' });
    expect(res.statusCode).toBe(404);
    expect((await issue('00000000-0000-7000-8000-000000000000', { name: 'nobody' })).statusCode).toBe(404);
    expect((await issue('not-an-id', { name: 'nobody' })).statusCode).toBe(404);

    const target = await addUser('viewer');
    for (const role of ['operator', 'viewer'] as const) {
      const lower = await addUser(role);
      expect((await issue(target.id, { name: `by-${role}` }, lower.key)).statusCode).toBe(403);
      expect((await issue(lower.id, { name: 'self' }, lower.key)).statusCode).toBe(403);
    }
    expect(await ctx.orm.em.fork().count(ApiKey, { userId: other.userId })).toBe(before);
    expect(await ctx.orm.em.fork().count(ApiKey, { userId: target.id })).toBe(1);
  });
});

describe('pagination', () => {
  it('walks every user exactly once, newest first, with limit=2', async () => {
    const acct = await ctx.bootstrap();
    const added = [];
    for (let i = 0; i < 4; i++) added.push((await addUser('viewer', acct.apiKey)).id);
    const pages = await walk('/v1/users', acct.apiKey, 2);
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    const ids = pages.flat();
    expect(new Set(ids).size).toBe(5);
    expect(ids).toEqual([...added.reverse(), acct.userId]);
  });

  it('walks every API key exactly once with limit=2, and a full page gives nextCursor null', async () => {
    const u = await addUser('viewer');
    const added = [(await me(u.key)).json().apiKeyId];
    for (let i = 0; i < 3; i++) added.push((await newKey(u.key, { name: `p${i}` })).json().id);
    const pages = await walk('/v1/api-keys', u.key, 2);
    expect(pages.map((p) => p.length)).toEqual([2, 2]);
    expect(pages.flat()).toEqual([...added].reverse());

    const all = await call('GET', '/v1/api-keys?limit=4', u.key);
    expect(all.json().nextCursor).toBeNull();
  });
});
