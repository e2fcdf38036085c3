import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';

/**
 * A body whose fields are all optional may be left out: `curl -X POST $SKY/v1/health/check` (the README's own line)
 * answered 400 "expected object, received null". Walks every POST, PUT and PATCH of the OpenAPI document whose body
 * has no required field and sends it no body at all, with and without a JSON Content-Type.
 */
let ctx: TestContext;
let key: string;
type Operation = { requestBody?: { required: boolean; content: Record<string, { schema: { required?: string[] } }> } };
let routes: { method: string; url: string; path: string; op: Operation }[] = [];

beforeAll(async () => {
  ctx = await createTestContext({ SKYLOFT_RATE_LIMIT: '1000000' });
  key = (await ctx.bootstrap()).apiKey;
  const doc = (await ctx.app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, Record<string, Operation>> };
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!['post', 'put', 'patch'].includes(method)) continue;
      const schemas = Object.values(op.requestBody?.content ?? {}).map((c) => c.schema);
      if (schemas.some((s) => (s.required ?? []).length > 0)) continue;
      // Unknown ids: a route that takes the empty body goes on to answer 404, one that refuses it answers 400 first.
      routes.push({ method: method.toUpperCase(), path, url: path.replace(/\{[^}]+\}/g, () => randomUUID()), op });
    }
  }
});
afterAll(() => ctx.close());

describe('a request without a body', () => {
  it('finds the routes whose body is all optional, the README\'s examples among them', () => {
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual(
      expect.arrayContaining(['POST /v1/health/check', 'POST /v1/inventory/sync', 'POST /v1/costs/collect', 'PUT /v1/schedules', 'PATCH /v1/users/{id}']),
    );
    expect(routes.map((r) => r.path)).not.toContain('/v1/api-keys'); // `name` is required there
  });

  it('is what the OpenAPI document says: their request body is not required', () => {
    expect(routes.filter((r) => r.op.requestBody?.required === true).map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });

  it.each([
    ['no Content-Type', {}],
    ['a JSON Content-Type', { 'content-type': 'application/json' }],
  ])('is taken as {} by every such route (%s): never 400, 415 or 500', async (_label, headers) => {
    const answers: string[] = [];
    for (const r of routes) {
      const res = await ctx.app.inject({ method: r.method as 'POST', url: r.url, headers: { ...bearer(key), ...headers } });
      if ([400, 415, 500].includes(res.statusCode)) answers.push(`${r.method} ${r.path}: ${res.statusCode} ${res.body}`);
    }
    expect(answers).toEqual([]);
  });

  it('starts the work the README promises: curl -X POST $SKY/v1/health/check answers 202', async () => {
    const res = await ctx.app.inject({ method: 'POST', url: '/v1/health/check', headers: bearer(key) });
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toEqual({ runIds: expect.any(Array) });
  });

  it('still answers 400 where the body has a required field, naming it', async () => {
    const res = await ctx.app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(key) });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('validation_failed');
  });
});
