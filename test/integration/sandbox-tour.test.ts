import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, dayOf, sandboxDailyCost, type SandboxRate } from '../../src/clouds/sandbox/cost.ts';
import type { Runtime } from '../../src/runtime.ts';
import { startWorkers } from '../../workers/index.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';

/**
 * Issue 19, item 17: with the sandbox alone, every endpoint shows real-looking data within a minute. Everything runs
 * through the real API, queues and workers (terraform included); the figures are asserted to the last digit.
 */
let ctx: TestContext;
let stopWorkers: () => Promise<void>;
const TODAY = dayOf(new Date());
const TOMORROW = addDays(TODAY, 1);

type Item = { externalId: string; name: string; type: string; classification: string; resourceId: string | null; metadata: Record<string, unknown>; tags: Record<string, string> };

beforeAll(async () => {
  ctx = await createTestContext();
  const rt: Runtime = { ...ctx.deps, ring: ctx.ring, close: async () => {} };
  stopWorkers = await startWorkers(rt);
}, 60_000);
afterAll(async () => {
  await stopWorkers?.();
  await ctx?.close();
});

function caller(key: string) {
  return async (method: string, url: string, body?: unknown) => {
    const res = await ctx.app.inject({ method: method as 'GET', url, headers: bearer(key), ...(body !== undefined && { payload: body as object }) });
    if (res.statusCode >= 400) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json();
  };
}
type Call = ReturnType<typeof caller>;

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const inventory = async (call: Call, credentialId: string): Promise<Item[]> => (await call('GET', `/v1/inventory?credentialId=${credentialId}&limit=500`)).items;

/** Waits until no sync or collection of the credential runs, then runs one of each and waits for them. */
async function syncAndCollect(call: Call, credentialId: string): Promise<void> {
  await until('idle runs', async () => {
    const syncs = (await call('GET', `/v1/inventory/runs?credentialId=${credentialId}`)).items as { status: string }[];
    const costs = (await call('GET', `/v1/costs/runs?credentialId=${credentialId}`)).items as { status: string }[];
    return !syncs.some((r) => r.status === 'running') && !costs.some((r) => r.status === 'queued' || r.status === 'running');
  });
  const [syncId] = (await call('POST', '/v1/inventory/sync', { credentialId })).runIds;
  const [costId] = (await call('POST', '/v1/costs/collect', { credentialId })).runIds;
  expect((await until('the sync', async () => { const r = await call('GET', `/v1/inventory/runs/${syncId}`); return r.status !== 'running' && r; })).status).toBe('succeeded');
  expect((await until('the collection', async () => {
    const r = ((await call('GET', `/v1/costs/runs?credentialId=${credentialId}`)).items as { id: string; status: string }[]).find((x) => x.id === costId);
    return r && (r.status === 'succeeded' || r.status === 'failed') && r;
  })).status).toBe('succeeded');
}

/** Amounts in ten-thousandths of a dollar, so sums are exact. */
const units = (amount: string) => Math.round(Number(amount) * 10_000);
const decimal = (u: number) => (u / 10_000).toFixed(4).replace(/\.?0+$/, '');

async function settle(call: Call, operationId: string) {
  return until(`operation ${operationId}`, async () => {
    const op = await call('GET', `/v1/operations/${operationId}`);
    return ['succeeded', 'failed', 'canceled'].includes(op.status) && op;
  }, 90_000);
}

describe('the sandbox tour', () => {
  let a: Call;
  let credentialId: string;
  const resources: Record<string, { id: string; externalId: string; rate: SandboxRate }> = {};

  it('shows inventory, health and cost within a minute of registering a sandbox credential, with no sync or collection asked for', async () => {
    a = caller((await ctx.bootstrap()).apiKey);
    credentialId = (await a('POST', '/v1/credentials', { name: 'try-me', provider: 'sandbox', secret: {} })).id;
    const items = await until('the first sync', async () => {
      const listed = await inventory(a, credentialId);
      return listed.length === 6 && listed;
    });
    const by = (c: string) => items.filter((i) => i.classification === c).map((i) => i.name).sort();
    expect(by('unmanaged')).toEqual(['ci-runner-3', 'default', 'legacy-bastion', 'team-shared-files']);
    expect(by('orphaned')).toEqual(['old-backups', 'old-web-1']);
    const health = await until('the first health check', async () => (await a('GET', '/v1/health/providers')).items.find((h: { credentialId: string }) => h.credentialId === credentialId));
    expect(health).toMatchObject({ status: 'healthy', errorMessage: null });
    const backfill = await until('the backfill collection', async () => ((await a('GET', `/v1/costs/runs?credentialId=${credentialId}`)).items as { trigger: string; status: string }[]).find((r) => r.trigger === 'backfill' && r.status === 'succeeded'));
    expect(backfill).toBeTruthy();
    const byDay = await a('GET', `/v1/costs?from=${addDays(TODAY, -30)}&to=${TOMORROW}&groupBy=day&credentialId=${credentialId}`);
    expect(byDay.groups.map((g: { key: string }) => g.key)).toEqual(Array.from({ length: 31 }, (_, i) => addDays(TODAY, i - 30)));
  }, 90_000);

  it("lists the resources Skyloft made as managed, with their real terraform ids, drift and exact daily cost", async () => {
    const make = async (name: string, type: string, spec: Record<string, unknown>) => {
      const { resource, operation } = await a('POST', '/v1/resources', { name, provider: 'sandbox', type, region: 'local', credentialId, spec });
      expect((await settle(a, operation.id)).status).toBe('succeeded');
      return (await a('GET', `/v1/resources/${resource.id}`)) as { id: string; outputs: { id: string } };
    };
    for (const [name, type, spec] of [['web-1', 'vm', { size: 'small' }], ['web-2', 'vm', { size: 'small' }], ['files', 'storage', { tier: 'hot' }]] as const) {
      const made = await make(name, type, spec);
      resources[name] = { id: made.id, externalId: made.outputs.id, rate: type };
    }
    // Each operation's end refreshed the sandbox's inventory: no sync asked for.
    await until('the managed items', async () => (await inventory(a, credentialId)).filter((i) => i.classification === 'managed').length === 3);

    await syncAndCollect(a, credentialId);
    const items = await inventory(a, credentialId);
    for (const [name, r] of Object.entries(resources)) {
      expect(items.find((i) => i.externalId === r.externalId), name).toMatchObject({ name, classification: 'managed', resourceId: r.id, tags: { 'skyloft-resource-id': r.id } });
    }
    expect(items.find((i) => i.name === 'web-1')!.metadata).toMatchObject({ size: 'large', spec: { size: 'small' } });
    expect(items.find((i) => i.name === 'web-2')!.metadata).toMatchObject({ size: 'small', spec: { size: 'small' } });
    expect((await a('GET', `/v1/resources/${resources['web-1']!.id}`)).drift).toBe('drifted');
    expect((await a('GET', `/v1/resources/${resources['web-2']!.id}`)).drift).toBe('none');
    expect((await a('GET', `/v1/resources/${resources.files!.id}`)).drift).toBe('none');
    expect(items.filter((i) => i.classification === 'unmanaged')).toHaveLength(4);
    expect(items.filter((i) => i.classification === 'orphaned')).toHaveLength(2);
    const summary = await a('GET', '/v1/inventory/summary');
    expect(summary.counts).toEqual([
      { provider: 'sandbox', type: 'network', status: 'available', count: 1 },
      { provider: 'sandbox', type: 'storage', status: 'available', count: 3 },
      { provider: 'sandbox', type: 'vm', status: 'running', count: 4 },
      { provider: 'sandbox', type: 'vm', status: 'stopped', count: 1 },
    ].map((c) => expect.objectContaining(c)));
    expect(summary.freshness).toEqual([expect.objectContaining({ credentialId, region: 'global', stale: false })]);

    // Today's figures, to the last digit: each object's own, the decoys', and support billed to no resource.
    const rateOf = (i: Item): SandboxRate => (i.type === 'vm' && i.name === 'ci-runner-3' ? 'storage' : (i.type as SandboxRate));
    const expected = new Map(items.map((i) => [i.externalId, units(sandboxDailyCost(rateOf(i), i.externalId, TODAY))]));
    expected.set('unattributed', units(sandboxDailyCost('support', `support:${credentialId}`, TODAY)));
    const total = [...expected.values()].reduce((x, y) => x + y, 0);
    const today = `from=${TODAY}&to=${TOMORROW}&credentialId=${credentialId}`;
    const byResource = await a('GET', `/v1/costs?${today}&groupBy=resource&limit=500`);
    expect(new Map(byResource.groups.map((g: { key: string; amount: string }) => [g.key, units(g.amount)]))).toEqual(expected);
    expect(byResource).toMatchObject({ currency: 'USD', total: decimal(total) });
    expect((await a('GET', `/v1/costs?${today}&groupBy=day`)).groups).toEqual([{ key: TODAY, currency: 'USD', amount: decimal(total) }]);
    expect((await a('GET', `/v1/costs?${today}&groupBy=provider`)).groups).toEqual([{ key: 'sandbox', currency: 'USD', amount: decimal(total) }]);
    const services = (await a('GET', `/v1/costs?${today}&groupBy=service`)).groups.map((g: { key: string }) => g.key).sort();
    expect(services).toEqual(['Sandbox Compute', 'Sandbox Networking', 'Sandbox Storage', 'Sandbox Support']);

    const web1 = resources['web-1']!;
    const cost = await a('GET', `/v1/resources/${web1.id}/cost`);
    const amount = decimal(units(sandboxDailyCost('vm', web1.externalId, TODAY)));
    expect(cost).toMatchObject({ externalIds: [web1.externalId], days: [{ date: TODAY, currency: 'USD', amount }], monthToDate: [{ currency: 'USD', amount }] });
  }, 240_000);

  it('drops a destroyed resource from inventory and keeps the days it was billed', async () => {
    const web2 = resources['web-2']!;
    const { operation } = await a('DELETE', `/v1/resources/${web2.id}`);
    expect((await settle(a, operation.id)).status).toBe('succeeded');
    await syncAndCollect(a, credentialId);
    expect((await inventory(a, credentialId)).some((i) => i.externalId === web2.externalId)).toBe(false);
    const kept = (await a('GET', `/v1/costs?from=${TODAY}&to=${TOMORROW}&groupBy=resource&limit=500&credentialId=${credentialId}`)).groups;
    expect(kept.find((g: { key: string }) => g.key === web2.externalId)?.amount).toBe(decimal(units(sandboxDailyCost('vm', web2.externalId, TODAY))));
  }, 120_000);

  it("shows another account's sandbox credential only its own objects and cost", async () => {
    const bKey = (await ctx.bootstrap()).apiKey;
    const b = caller(bKey);
    const other = (await b('POST', '/v1/credentials', { name: 'try-me', provider: 'sandbox', secret: {} })).id;
    await syncAndCollect(b, other);
    const theirs = await inventory(b, other);
    expect(theirs).toHaveLength(6);
    expect(theirs.every((i) => i.classification !== 'managed')).toBe(true);
    const mine = new Set((await a('GET', '/v1/inventory?include=deleted&limit=500')).items.map((i: Item) => i.externalId));
    expect(theirs.some((i) => mine.has(i.externalId))).toBe(false);
    expect((await b('GET', '/v1/inventory?limit=500')).items).toHaveLength(6);
    const keys = (await b('GET', `/v1/costs?from=${TODAY}&to=${TOMORROW}&groupBy=resource&limit=500`)).groups.map((g: { key: string }) => g.key);
    expect(keys).toHaveLength(7);
    expect(keys.some((k: string) => mine.has(k))).toBe(false);
    // A's resources are not B's to read, nor their cost.
    const res = await ctx.app.inject({ method: 'GET', url: `/v1/resources/${resources['web-1']!.id}/cost`, headers: bearer(bKey) });
    expect(res.statusCode).toBe(404);
  }, 120_000);
});
