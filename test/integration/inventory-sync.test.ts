import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/runtime.ts';
import { startWorkers } from '../../workers/index.ts';
import { startEmulator } from '../emulator/emulator.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';
import { insertResource } from '../support/resources.ts';

type Emulator = Awaited<ReturnType<typeof startEmulator>>;

const REGIONS = ['us-east-1', 'eu-west-1'];
const INSTANCES_PER_REGION = 1_200; // more than one EC2 page (1,000)

let ctx: TestContext;
let emu: Emulator;
let stopWorkers: () => Promise<void>;
let key: string;
let credentialId: string;

beforeAll(async () => {
  ctx = await createTestContext();
  emu = await startEmulator({
    seed: 11,
    aws: { regions: REGIONS, counts: { instances: INSTANCES_PER_REGION, volumes: 30, vpcs: 2, subnets: 4, securityGroups: 3, buckets: 5 } },
  });
  const rt: Runtime = { ...ctx.deps, ring: ctx.ring, close: async () => {} };
  stopWorkers = await startWorkers(rt);
  key = (await ctx.bootstrap()).apiKey;
  const aws = emu.credentials.aws;
  const created = await call('POST', '/v1/credentials', {
    name: 'emulated-aws',
    provider: 'aws',
    region: 'us-east-1',
    endpoints: { api: emu.urls.aws },
    secret: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey },
  });
  credentialId = created.json().id;
}, 60_000);

afterAll(async () => {
  await stopWorkers?.();
  await emu?.close();
  await ctx?.close();
});

function call(method: string, url: string, body?: unknown) {
  return ctx.app.inject({ method: method as 'POST', url, headers: bearer(key), ...(body !== undefined && { payload: body as object }) });
}

async function syncAndWait(): Promise<Record<string, unknown>> {
  const res = await call('POST', '/v1/inventory/sync', { credentialId });
  expect(res.statusCode, res.body).toBe(202);
  const [runId] = res.json().runIds as string[];
  const deadline = Date.now() + 90_000;
  for (;;) {
    const run = (await call('GET', `/v1/inventory/runs/${runId}`)).json();
    if (run.status !== 'running') return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} still running: ${JSON.stringify(run)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

type Item = { externalId: string; deletedAt: string | null };

async function items(query = ''): Promise<Item[]> {
  const all: Item[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: Item[]; nextCursor: string | null } = (await call('GET', `/v1/inventory?provider=aws&type=vm&limit=500${query}${cursor ? `&cursor=${cursor}` : ''}`)).json();
    all.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return all;
}

const countVms = async () => (await items()).length;

describe('an AWS inventory sync against the emulator', () => {
  it('lists every region and kind to the end and stores every item once', async () => {
    const run = await syncAndWait();
    expect(run).toMatchObject({ status: 'succeeded', deleted: 0 });
    expect(run.added).toBeGreaterThanOrEqual(REGIONS.length * INSTANCES_PER_REGION);
    expect(await countVms()).toBe(REGIONS.length * INSTANCES_PER_REGION);
    const summary = (await call('GET', '/v1/inventory/summary')).json();
    expect(summary.freshness.map((f: { region: string }) => f.region)).toEqual(expect.arrayContaining(REGIONS));
  }, 120_000);

  it('tombstones what disappeared, adds what appeared and changes what changed, on the next sync', async () => {
    const [gone] = emu.fleet.ids('aws', 'instances', 'us-east-1', 1);
    emu.fleet.delete(gone!);
    emu.fleet.create({ cloud: 'aws', kind: 'instances', region: 'eu-west-1' });
    const run = await syncAndWait();
    expect(run).toMatchObject({ status: 'succeeded', added: 1, deleted: 1 });
    expect(await countVms()).toBe(REGIONS.length * INSTANCES_PER_REGION);
    const tombstones = await items('&include=deleted');
    expect(tombstones.find((i) => i.externalId === gone)?.deletedAt).toEqual(expect.any(String));
    expect((await items()).some((i) => i.externalId === gone)).toBe(false);
  }, 120_000);

  it('deletes nothing in a region whose listing failed, reports the run partial, and revives later', async () => {
    const fault = emu.faults.add({ cloud: 'aws', operation: 'DescribeInstances', region: 'eu-west-1', kind: 'server-error' });
    const [vanished] = emu.fleet.ids('aws', 'instances', 'eu-west-1', 1);
    emu.fleet.delete(vanished!);
    const before = await countVms();
    const partial = await syncAndWait();
    expect(partial.status).toBe('partial');
    expect((partial.errors as { region: string }[]).some((e) => e.region === 'eu-west-1')).toBe(true);
    expect(await countVms()).toBe(before); // the failed scope tombstoned nothing
    const fresh = (await call('GET', '/v1/inventory/summary')).json().freshness as { region: string; stale: boolean }[];
    expect(fresh.find((f) => f.region === 'eu-west-1')?.stale).toBe(true);
    expect(fresh.find((f) => f.region === 'us-east-1')?.stale).toBe(false);
    emu.faults.clear(fault.id);
    const healed = await syncAndWait();
    expect(healed).toMatchObject({ status: 'succeeded', deleted: 1 });
    const after = (await call('GET', '/v1/inventory/summary')).json().freshness as { region: string; stale: boolean }[];
    expect(after.every((f) => !f.stale)).toBe(true);
  }, 180_000);

  it('joins the run in progress instead of starting a second one', async () => {
    const [a, b] = await Promise.all([call('POST', '/v1/inventory/sync', { credentialId }), call('POST', '/v1/inventory/sync', { credentialId })]);
    expect(a.json().runIds).toEqual(b.json().runIds);
    await syncAndWait();
  }, 120_000);
});

describe('schedules', () => {
  const schedulers = async (queue: 'inventory' | 'health') => ctx.deps.queues.get(queue).getJobSchedulers(0, -1);

  it('register one sync and one health scheduler per credential, follow PUT /v1/schedules, and never duplicate', async () => {
    expect((await call('GET', '/v1/schedules')).json()).toEqual({ inventoryMinutes: 15, healthMinutes: 5, costCron: '0 2 * * *' });
    const put = await call('PUT', '/v1/schedules', { inventoryMinutes: 30 });
    expect(put.statusCode, put.body).toBe(200);
    expect((await call('GET', '/v1/schedules')).json().inventoryMinutes).toBe(30);

    // Two scheduler processes restarting at once: both reconcile; still one scheduler of each kind per credential.
    await Promise.all([ctx.deps.schedules.reconcile(ctx.orm.em.fork()), ctx.deps.schedules.reconcile(ctx.orm.em.fork())]);
    await ctx.deps.schedules.reconcile(ctx.orm.em.fork());
    const sync = (await schedulers('inventory')).filter((s) => s.key === `inventory_${credentialId}`);
    expect(sync).toHaveLength(1);
    expect(sync[0]!.every).toBe(30 * 60_000);
    expect((await schedulers('health')).filter((s) => s.key === `health_${credentialId}`)).toHaveLength(1);
    expect((await call('PUT', '/v1/schedules', { healthMinutes: 0 })).statusCode).toBe(400);
  });

  it('are removed with their credential', async () => {
    const extra = (await call('POST', '/v1/credentials', { name: 'short-lived', provider: 'sandbox', secret: {} })).json();
    expect((await schedulers('health')).some((s) => s.key === `health_${extra.id}`)).toBe(true);
    expect((await call('DELETE', `/v1/credentials/${extra.id}`)).statusCode).toBe(204);
    expect((await schedulers('health')).some((s) => s.key === `health_${extra.id}`)).toBe(false);
    expect((await schedulers('inventory')).some((s) => s.key === `inventory_${extra.id}`)).toBe(false);
  });
});

describe('drift of managed resources', () => {
  it('is none while the cloud matches the spec, drifted when its type changed, missing when it is gone', async () => {
    const me = (await call('GET', '/v1/me')).json();
    const resource = await insertResource(ctx, me.account.id, { provider: 'aws', credentialId, region: 'us-east-1', spec: { ami: 'ami-1', instanceType: 't3.micro' } });
    const drift = async () => (await call('GET', `/v1/resources/${resource.id}`)).json().drift;
    expect(await drift()).toBeNull();
    await syncAndWait(); // lets a run already in progress (a scheduled one) finish first: a sync request joins it
    const created = emu.fleet.create({ cloud: 'aws', kind: 'instances', region: 'us-east-1', type: 't3.micro', tags: { 'skyloft-resource-id': resource.id } });
    await syncAndWait();
    expect(await drift()).toBe('none');
    emu.fleet.change(created.id, { type: 't3.large' });
    await syncAndWait();
    expect(await drift()).toBe('drifted');
    emu.fleet.delete(created.id);
    await syncAndWait();
    expect(await drift()).toBe('missing');
  }, 120_000);

  it("counts only the account's own inventory: another tenant tagging its objects with A's resource id changes nothing", async () => {
    const me = (await call('GET', '/v1/me')).json();
    const resource = await insertResource(ctx, me.account.id, { provider: 'aws', credentialId, region: 'us-east-1', spec: { ami: 'ami-1', instanceType: 't3.micro' } });
    // Account B controls its own cloud, so it can put A's resource id in any tag; its sync stores the item in B.
    const other = await ctx.bootstrap();
    const otherCredential = (await ctx.app.inject({ method: 'POST', url: '/v1/credentials', headers: bearer(other.apiKey), payload: { name: 'b', provider: 'sandbox', secret: {} } })).json().id;
    await ctx.orm.em.fork().getConnection().execute(
      `insert into inventory_items (id, account_id, credential_id, provider, type, kind, region, external_id, name, status, metadata, tags,
                                    content_hash, managed_resource_id, first_seen_at, last_seen_at, last_run_id)
       values (gen_random_uuid(), ?, ?, 'sandbox', 'vm', 'sandbox:vm', 'local', 'i-copycat', 'copycat', 'running', ?, ?, 'h', ?, now(), now(), gen_random_uuid())`,
      [other.accountId, otherCredential, JSON.stringify({ instanceType: 't3.huge' }), JSON.stringify({ 'skyloft-resource-id': resource.id }), resource.id],
    );
    await syncAndWait();
    expect((await call('GET', `/v1/resources/${resource.id}`)).json().drift).toBeNull();
  }, 120_000);
});

// Last: it revokes the emulator's AWS key.
describe('health checks against the emulator', () => {
  async function checkNow(): Promise<{ status: string; throttled: boolean; errorMessage: string | null; responseTimeMs: number }> {
    const res = await call('POST', '/v1/health/check', { credentialId });
    expect(res.statusCode, res.body).toBe(202);
    const [checkId] = res.json().runIds as string[];
    const deadline = Date.now() + 60_000;
    for (;;) {
      const history = (await call('GET', `/v1/health/providers/${credentialId}/history?limit=20`)).json();
      const found = history.items.find((c: { id: string }) => c.id === checkId);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`check ${checkId} never recorded`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('records healthy, degraded when slow or throttled, and error when the key is revoked', async () => {
    expect(await checkNow()).toMatchObject({ status: 'healthy', throttled: false, errorMessage: null });
    const latest = (await call('GET', '/v1/health/providers')).json().items;
    expect(latest).toEqual([expect.objectContaining({ credentialId, provider: 'aws', status: 'healthy' })]);

    const slow = emu.faults.add({ cloud: 'aws', kind: 'latency', latencyMs: 2_300 });
    const slowCheck = await checkNow();
    emu.faults.clear(slow.id);
    expect(slowCheck.status).toBe('degraded');
    expect(slowCheck.responseTimeMs).toBeGreaterThan(2_000);

    const storm = emu.faults.add({ cloud: 'aws', kind: 'throttle' });
    const throttled = await checkNow();
    emu.faults.clear(storm.id);
    expect(throttled).toMatchObject({ status: 'degraded', throttled: true });

    emu.revoke(emu.credentials.aws.accessKeyId);
    const refused = await checkNow();
    expect(refused.status).toBe('error');
    expect(refused.errorMessage).toMatch(/authentication/i);
  }, 180_000);
});
