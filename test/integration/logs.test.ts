import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/runtime.ts';
import { startWorkers } from '../../workers/index.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';

let ctx: TestContext;
let stopWorkers: () => Promise<void>;
let key: string;

beforeAll(async () => {
  ctx = await createTestContext();
  const rt: Runtime = { ...ctx.deps, ring: ctx.ring, close: async () => {} };
  stopWorkers = await startWorkers(rt);
  key = (await ctx.bootstrap()).apiKey;
}, 60_000);
afterAll(async () => {
  await stopWorkers?.();
  await ctx?.close();
});

const lines = () => ctx.logs.map((l) => JSON.parse(l) as Record<string, any>);
const call = (method: string, url: string, body?: unknown) =>
  ctx.app.inject({ method: method as 'POST', url, headers: bearer(key), ...(body !== undefined && { payload: body as object }) });

describe('logs', () => {
  it('write one line per request with its ids, and never its query string or Authorization header', async () => {
    const res = await call('GET', '/v1/credentials?limit=5&cursor=sekrit-looking-cursor');
    expect(res.statusCode).toBe(400); // a cursor it never gave out
    const requestId = res.headers['x-request-id'];
    const mine = lines().filter((l) => l.requestId === requestId);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ msg: 'request completed', method: 'GET', route: '/v1/credentials', path: '/v1/credentials', status: 400, durationMs: expect.any(Number), accountId: expect.any(String), keyId: expect.any(String) });
    const text = ctx.logs.join('');
    expect(text).not.toContain('sekrit-looking-cursor');
    expect(text).not.toContain(key);
  });

  it('carry the request id into the jobs the request enqueued, and into the lines logged inside them', async () => {
    const cred = await call('POST', '/v1/credentials', { name: 'sandbox', provider: 'sandbox', secret: {} });
    const created = await call('POST', '/v1/resources', { name: 'vm', provider: 'sandbox', type: 'vm', region: 'local', credentialId: cred.json().id, spec: {} });
    expect(created.statusCode, created.body).toBe(202);
    const requestId = created.headers['x-request-id'];
    const { operation } = created.json();
    for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 200))) {
      const job = lines().find((l) => l.msg === 'job finished' && l.operationId === operation.id);
      if (job) {
        expect(job).toMatchObject({ requestId, job: 'provision', queue: 'provisioning', jobId: expect.stringContaining(operation.id), attempt: 1, outcome: 'completed', durationMs: expect.any(Number) });
        break;
      }
      expect(Date.now() < deadline, 'no job line').toBe(true);
    }
    // The credential's POST queued its health check and its cost backfill: both carry that request's id, and so do
    // the lines logged inside them.
    const credRequest = cred.headers['x-request-id'];
    for (const deadline = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 200))) {
      const done = lines().filter((l) => l.msg === 'job finished' && l.requestId === credRequest).map((l) => l.job);
      if (done.includes('health-check') && done.includes('cost-collect')) break;
      expect(Date.now() < deadline, `jobs seen: ${done.join(', ')}`).toBe(true);
    }
    const inside = lines().filter((l) => l.msg === 'cost collection stored' && l.jobId?.startsWith('cost_'));
    expect(inside.some((l) => l.requestId === credRequest)).toBe(true);
    // The sandbox's own collection after the operation (workers/sandbox-follow.ts) carries the resource request's id.
    expect(inside.every((l) => l.requestId === credRequest || l.requestId === requestId)).toBe(true);
  }, 90_000);
});
