import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/runtime.ts';
import { startWorkers } from '../../workers/index.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';

/** A worker limited to some queues (SKYLOFT_WORKER_QUEUES) with its own concurrency per queue (SKYLOFT_QUEUE_CONCURRENCY). */
let ctx: TestContext;
let stop: (() => Promise<void>) | undefined;
let key: string;

beforeAll(async () => {
  ctx = await createTestContext({ SKYLOFT_WORKER_QUEUES: 'health', SKYLOFT_QUEUE_CONCURRENCY: 'health=3' });
  key = (await ctx.bootstrap()).apiKey;
});
afterAll(async () => {
  await stop?.();
  await ctx?.close();
});

const rt = (): Runtime => ({ ...ctx.deps, ring: ctx.ring, close: async () => {} });
const call = (method: string, url: string, payload?: object) => ctx.app.inject({ method: method as 'GET', url, headers: bearer(key), ...(payload && { payload }) });

describe('a worker limited to the health queue', () => {
  it('runs health checks and leaves provisioning to other workers', async () => {
    stop = await startWorkers(rt());
    expect(ctx.logs.find((l) => l.includes('worker role ready'))).toContain('"queues":{"health":3}');
    const cred = await call('POST', '/v1/credentials', { name: 'sandbox', provider: 'sandbox', secret: {} });
    expect(cred.statusCode, cred.body).toBe(201);
    const created = await call('POST', '/v1/resources', { name: 'vm', provider: 'sandbox', type: 'vm', region: 'local', credentialId: cred.json().id, spec: {} });
    expect(created.statusCode, created.body).toBe(202);
    // The health check queued at registration runs here...
    let checks: unknown[] = [];
    for (const deadline = Date.now() + 20_000; checks.length === 0 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
      checks = (await call('GET', '/v1/health/providers')).json().items;
    }
    expect(checks).toHaveLength(1);
    // ...while the operation waits for a provisioning worker.
    expect((await call('GET', `/v1/operations/${created.json().operation.id}`)).json().status).toBe('queued');
    const counts = (await call('GET', '/v1/queues')).json().items as { name: string; waiting: number; active: number }[];
    expect(counts.find((q) => q.name === 'provisioning')!.waiting).toBe(1);
  });

  it('refuses to start with a queue name it does not know, naming it', async () => {
    const bad = await createTestContext({ SKYLOFT_WORKER_QUEUES: 'health,provisoning' });
    try {
      await expect(startWorkers({ ...bad.deps, ring: bad.ring, close: async () => {} })).rejects.toThrow(/Unknown queue\(s\) provisoning/);
    } finally {
      await bad.close();
    }
  });
});
