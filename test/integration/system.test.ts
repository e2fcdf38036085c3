import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import { createRedis } from '../../src/queue/redis.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { freePort } from '../../src/shared/net.ts';
import { createTestContext, type TestContext } from '../support/context.ts';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

describe('probes and documentation', () => {
  it('answers /healthz and /readyz without a key while PostgreSQL and Redis answer', async () => {
    expect((await ctx.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await ctx.app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
  });

  it('answers /readyz 503 naming Redis when Redis does not answer', async () => {
    const deadRedis = createRedis(`redis://127.0.0.1:${await freePort()}`);
    const app = await buildApp({ ...ctx.deps, redis: deadRedis, log: createLogger('silent') });
    try {
      const res = await app.inject({ url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ status: 'unavailable', failed: ['redis'], checks: { postgres: 'ok', redis: 'error' } });
    } finally {
      await app.close();
      deadRedis.disconnect();
    }
  });

  it('serves an OpenAPI 3 document whose paths carry the /v1 prefix, and its UI', async () => {
    const doc = (await ctx.app.inject({ url: '/openapi.json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of ['/v1/me', '/v1/users', '/v1/users/{id}', '/v1/api-keys', '/v1/credentials', '/v1/credentials/{id}/secret', '/v1/audit-events']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    expect(JSON.stringify(doc.paths['/v1/credentials'].post.requestBody)).toContain('secret');
    const ui = await ctx.app.inject({ url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toContain('text/html');
  });
});

describe('paths', () => {
  it('treat a trailing slash like none', async () => {
    const { apiKey } = await ctx.bootstrap();
    const headers = { authorization: `Bearer ${apiKey}` };
    expect((await ctx.app.inject({ url: '/v1/credentials', headers })).statusCode).toBe(200);
    expect((await ctx.app.inject({ url: '/v1/credentials/', headers })).statusCode).toBe(200);
  });
});
