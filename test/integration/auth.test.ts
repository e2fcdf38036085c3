import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const suffix = () => randomBytes(4).toString('hex');
/** A key of the right shape (sky_ + 36 base62) that was never issued. */
const unknownKey = () => `sky_${randomBytes(48).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 36)}`;

type Headers = Record<string, string>;
const call = (c: TestContext, method: string, url: string, headers: Headers = {}, payload?: unknown) =>
  c.app.inject({ method: method as 'GET', url, headers, ...(payload !== undefined && { payload: payload as object }) });

/** The contract's error shape, with the body's requestId equal to the x-request-id header. */
function expectError(res: LightMyRequestResponse, status: number, code?: string) {
  expect(res.statusCode, res.body).toBe(status);
  const body = res.json();
  expect(body).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) }, requestId: expect.any(String) });
  if (code) expect(body.error.code).toBe(code);
  expect(res.headers['x-request-id']).toBe(body.requestId);
  expect(res.body).not.toMatch(/\n\s+at /); // never a stack trace
}

let ctx: TestContext;
let adminKey: string;

async function newKey(c: TestContext, ownerKey: string, body: Record<string, unknown> = {}) {
  const res = await call(c, 'POST', '/v1/api-keys', bearer(ownerKey), { name: `k-${suffix()}`, ...body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; key: string; prefix: string };
}

/** api_keys.last_used_at as text (microseconds kept, so any rewrite shows) and as epoch milliseconds. */
async function lastUsedAt(id: string): Promise<{ text: string | null; ms: number | null }> {
  const [row] = await ctx.orm.em.fork().getConnection().execute(
    'select last_used_at::text as text, extract(epoch from last_used_at) * 1000 as ms from api_keys where id = ?',
    [id],
  );
  expect(row, `api key ${id}`).toBeDefined();
  return { text: row!.text ?? null, ms: row!.ms === null ? null : Number(row!.ms) };
}

beforeAll(async () => {
  ctx = await createTestContext();
  adminKey = (await ctx.bootstrap()).apiKey;
});
afterAll(() => ctx?.close());

describe('authentication', () => {
  it('answers 401, never 400, when the Authorization header is missing', async () => {
    expectError(await call(ctx, 'GET', '/v1/me'), 401, 'unauthorized');
    expectError(await call(ctx, 'GET', '/v1/credentials?limit=nonsense'), 401, 'unauthorized');
  });

  it('answers 401 without a key on unknown /v1 paths too, and 404 to a valid key', async () => {
    expectError(await call(ctx, 'GET', '/v1/no-such-route'), 401, 'unauthorized');
    expectError(await call(ctx, 'POST', '/v1/me'), 401, 'unauthorized');
    expectError(await call(ctx, 'GET', '/v1/no-such-route', bearer(adminKey)), 404, 'not_found');
  });

  it('answers 401 for every malformed key and header', async () => {
    const valid = adminKey;
    const headers = [
      'Bearer',
      'Bearer ',
      'Bearer sky_short',
      `Bearer ${valid}x`,
      `Bearer ${valid.slice(0, -1)}!`,
      `Bearer sk_${valid.slice(4)}`,
      `Token ${valid}`,
      valid,
      'Basic !!!not-base64!!!',
      `Basic ${Buffer.from(valid).toString('base64')}`, // no colon: no password
    ];
    for (const authorization of headers) {
      expectError(await call(ctx, 'GET', '/v1/me', { authorization }), 401, 'unauthorized');
    }
  });

  it('answers 401 for a well-formed key that was never issued', async () => {
    const key = unknownKey();
    expect(key).toMatch(/^sky_[A-Za-z0-9]{36}$/);
    expectError(await call(ctx, 'GET', '/v1/me', bearer(key)), 401, 'unauthorized');
  });

  it('accepts a key until its expiresAt and answers 401 after it', async () => {
    const expiresAt = Date.now() + 5000;
    const { key } = await newKey(ctx, adminKey, { expiresAt: new Date(expiresAt).toISOString() });
    expect((await call(ctx, 'GET', '/v1/me', bearer(key))).statusCode).toBe(200);
    await sleep(expiresAt - Date.now() + 100);
    expectError(await call(ctx, 'GET', '/v1/me', bearer(key)), 401, 'unauthorized');
  });

  it('answers 401 for a key whose expires_at was set in the past', async () => {
    const { id, key } = await newKey(ctx, adminKey);
    expect((await call(ctx, 'GET', '/v1/me', bearer(key))).statusCode).toBe(200);
    await ctx.orm.em.fork().getConnection().execute(`update api_keys set expires_at = now() - interval '1 second' where id = ?`, [id]);
    expectError(await call(ctx, 'GET', '/v1/me', bearer(key)), 401, 'unauthorized');
  });

  it('answers 401 for a revoked key, also over HTTP Basic', async () => {
    const { id, key } = await newKey(ctx, adminKey);
    expect((await call(ctx, 'GET', '/v1/me', bearer(key))).statusCode).toBe(200);
    const del = await call(ctx, 'DELETE', `/v1/api-keys/${id}`, bearer(adminKey));
    expect(del.statusCode, del.body).toBe(200);
    expect(del.json().revokedAt).toEqual(expect.any(String));
    expectError(await call(ctx, 'GET', '/v1/me', bearer(key)), 401, 'unauthorized');
    expectError(await call(ctx, 'GET', '/v1/me', basic('terraform', key)), 401, 'unauthorized');
  });

  it('answers 401 for the key of a deactivated user, and reactivating does not bring the key back', async () => {
    const created = await call(ctx, 'POST', '/v1/users', bearer(adminKey), { email: `op-${suffix()}@example.com`, role: 'operator' });
    expect(created.statusCode, created.body).toBe(201);
    const { id: userId, apiKey } = created.json();
    expect((await call(ctx, 'GET', '/v1/me', bearer(apiKey.key))).statusCode).toBe(200);

    const off = await call(ctx, 'PATCH', `/v1/users/${userId}`, bearer(adminKey), { active: false });
    expect(off.statusCode, off.body).toBe(200);
    expectError(await call(ctx, 'GET', '/v1/me', bearer(apiKey.key)), 401, 'unauthorized');

    const on = await call(ctx, 'PATCH', `/v1/users/${userId}`, bearer(adminKey), { active: true });
    expect(on.statusCode, on.body).toBe(200);
    expectError(await call(ctx, 'GET', '/v1/me', bearer(apiKey.key)), 401, 'unauthorized');
  });

  it('answers 401, not 400 or 415, when both the key and the body are bad', async () => {
    const url = '/v1/credentials';
    const json = { 'content-type': 'application/json' };
    // Control: with a good key the same malformed body is a 400.
    expectError(await call(ctx, 'POST', url, { ...bearer(adminKey), ...json }, '{"name": '), 400);
    expectError(await call(ctx, 'POST', url, json, '{"name": '), 401, 'unauthorized');
    expectError(await call(ctx, 'POST', url, { ...bearer(unknownKey()), ...json }, '{"name": '), 401, 'unauthorized');
    expectError(await call(ctx, 'POST', url, { authorization: 'Bearer nope', ...json }, { provider: 'nowhere' }), 401, 'unauthorized');
    expectError(await call(ctx, 'POST', url, { 'content-type': 'text/plain' }, 'hello'), 401, 'unauthorized');
    expectError(await call(ctx, 'PATCH', '/v1/users/not-an-id', json, '[['), 401, 'unauthorized');
  });

  it('accepts HTTP Basic with the key as password and any username, like Bearer', async () => {
    const viaBearer = await call(ctx, 'GET', '/v1/me', bearer(adminKey));
    expect(viaBearer.statusCode).toBe(200);
    for (const user of ['terraform', '', 'any user']) {
      const res = await call(ctx, 'GET', '/v1/me', basic(user, adminKey));
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual(viaBearer.json());
    }
    const post = await call(ctx, 'POST', '/v1/credentials', basic('x', adminKey), { name: `basic-${suffix()}`, provider: 'sandbox', secret: {} });
    expect(post.statusCode, post.body).toBe(201);
    expectError(await call(ctx, 'GET', '/v1/me', basic('terraform', unknownKey())), 401, 'unauthorized');
  });

  it('writes last_used_at on first use and not again within the minute', async () => {
    const { id, key } = await newKey(ctx, adminKey);
    expect((await lastUsedAt(id)).text).toBeNull();
    const before = Date.now();
    expect((await call(ctx, 'GET', '/v1/me', bearer(key))).statusCode).toBe(200);
    const first = await lastUsedAt(id);
    expect(first.text).not.toBeNull();
    expect(first.ms).toBeGreaterThanOrEqual(before - 1000);
    expect(first.ms).toBeLessThanOrEqual(Date.now() + 1000);

    await sleep(50);
    expect((await call(ctx, 'GET', '/v1/credentials', bearer(key))).statusCode).toBe(200);
    expect((await lastUsedAt(id)).text).toBe(first.text);

    const listed = await call(ctx, 'GET', '/v1/api-keys', bearer(adminKey));
    expect(listed.json().items.find((k: { id: string }) => k.id === id).lastUsedAt).toEqual(expect.any(String));
  });
});

describe('request ids', () => {
  it('puts an x-request-id header on every response, equal to requestId on errors', async () => {
    const ok = await call(ctx, 'GET', '/v1/me', bearer(adminKey));
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['x-request-id']).toEqual(expect.any(String));
    const health = await call(ctx, 'GET', '/healthz');
    expect(health.headers['x-request-id']).toEqual(expect.any(String));
    expect(health.headers['x-request-id']).not.toBe(ok.headers['x-request-id']);

    expectError(await call(ctx, 'GET', '/v1/me'), 401);
    expectError(await call(ctx, 'GET', '/v1/credentials/00000000-0000-7000-8000-000000000000', bearer(adminKey)), 404);
    expectError(await call(ctx, 'POST', '/v1/api-keys', bearer(adminKey), { name: '' }), 400);
    expectError(await call(ctx, 'GET', '/v1/no-such-route', bearer(adminKey)), 404);
  });
});

describe('rate limiting', () => {
  let limited: TestContext;
  let key: string;
  afterAll(() => limited?.close());
  beforeAll(async () => {
    limited = await createTestContext({ SKYLOFT_RATE_LIMIT: '5' });
    key = (await limited.bootstrap()).apiKey;
  });

  it('answers 429 with Retry-After to the 6th request in a minute, and leaves other keys alone', async () => {
    // A fixed one-minute window: don't start right before it turns over.
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 5000) await sleep(left + 100);

    // Request 1 of 5: a second key of the same user, to show the budget is per key.
    const other = await newKey(limited, key);
    for (let i = 2; i <= 5; i++) expect((await call(limited, 'GET', '/v1/me', bearer(key))).statusCode, `request ${i}`).toBe(200);
    const sixth = await call(limited, 'GET', '/v1/me', bearer(key));
    expectError(sixth, 429, 'rate_limited');
    expect(Object.keys(sixth.json()).sort()).toEqual(['error', 'requestId']);
    const retryAfter = Number(sixth.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // HTTP Basic uses the same key, so the same budget.
    expectError(await call(limited, 'GET', '/v1/me', basic('tf', key)), 429, 'rate_limited');

    for (const otherKey of [other.key, (await limited.bootstrap()).apiKey]) {
      const res = await call(limited, 'GET', '/v1/me', bearer(otherKey));
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['retry-after']).toBeUndefined();
    }
  });
});
