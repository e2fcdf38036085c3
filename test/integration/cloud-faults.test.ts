import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, today } from '../../src/modules/cost/days.ts';
import { startEmulator, type Emulator } from '../emulator/emulator.ts';
import type { Fault } from '../emulator/faults.ts';
import type { Cloud } from '../emulator/options.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';
import { closeEmulated, startWorkersOnEmulator } from '../support/emulated-workers.ts';
import { emulatedCredentials } from '../support/emulated-credentials.ts';

/**
 * Inventory syncs, cost collections and health checks of all three clouds at once while the emulator throttles 30% of
 * every cloud's calls (each in its own dialect) and answers 5% with a server error: everything completes, the
 * inventory stays exact (nothing lost, nothing invented), the cost figures are the emulator's to the cent, and the
 * retries and their backoff show in /metrics.
 */
const CLOUDS = ['aws', 'azure', 'gcp'] as const;
const TODAY = today();
const ROUNDS = 3;
const RANGE = { from: addDays(TODAY, -14), to: addDays(TODAY, 1) };

let ctx: TestContext;
let emu: Emulator;
let stopWorkers: () => Promise<void>;
let key: string;
const credentialIds: Record<Cloud, string> = { aws: '', azure: '', gcp: '' };

beforeAll(async () => {
  // Three clouds polled at once for minutes: more than the default 600 requests a minute per key.
  ctx = await createTestContext({ SKYLOFT_RATE_LIMIT: '100000' });
  emu = await startEmulator({
    seed: 67,
    spend: { resources: 8, servicesPerResource: 2, days: 30 },
    aws: { regions: ['us-east-1', 'eu-west-1'], counts: { instances: 120, volumes: 20, vpcs: 2, subnets: 4, securityGroups: 4, buckets: 3 } },
    // Small pages: every Azure list and cost query walks several pages, so the faults land mid-list.
    azure: { locations: ['eastus', 'westeurope'], pageSize: 8, costPageSize: 20, counts: { virtualMachines: 30, disks: 20, virtualNetworks: 2 } },
    gcp: { zones: ['us-central1-a', 'europe-west1-b'], counts: { instances: 30, disks: 20, networks: 2 } },
  });
  stopWorkers = await startWorkersOnEmulator(ctx, emu);
  key = (await ctx.bootstrap()).apiKey;

  const bodies = emulatedCredentials(emu, 'stormy', ['us-east-1', 'eu-west-1']);
  for (const cloud of CLOUDS) {
    const created = await call('POST', '/v1/credentials', bodies[cloud]);
    expect(created.statusCode, created.body).toBe(201);
    credentialIds[cloud] = created.json().id;
  }
  // Registration queues a health check and a cost backfill: let them finish in calm weather.
  for (const cloud of CLOUDS) {
    await until(async () => (await healthHistory(cloud)).length > 0, `${cloud} first health check`);
    await costRuns(cloud);
  }
}, 120_000);

afterAll(() => closeEmulated({ stopWorkers, emu, ctx }));

function call(method: string, url: string, body?: unknown) {
  return ctx.app.inject({ method: method as 'POST', url, headers: bearer(key), ...(body !== undefined && { payload: body as object }) });
}

async function until(check: () => Promise<boolean>, what: string, ms = 180_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function syncAndWait(cloud: Cloud): Promise<Record<string, unknown>> {
  const res = await call('POST', '/v1/inventory/sync', { credentialId: credentialIds[cloud] });
  expect(res.statusCode, res.body).toBe(202);
  const [runId] = res.json().runIds as string[];
  let run: Record<string, unknown> = {};
  await until(async () => (run = (await call('GET', `/v1/inventory/runs/${runId}`)).json()).status !== 'running', `${cloud} sync ${runId}`);
  return run;
}

interface CostRun { id: string; status: string; error: string | null }

/** Every cost run of the credential once none is still going. */
async function costRuns(cloud: Cloud): Promise<CostRun[]> {
  let runs: CostRun[] = [];
  await until(async () => {
    const res = await call('GET', `/v1/costs/runs?credentialId=${credentialIds[cloud]}&limit=100`);
    expect(res.statusCode, res.body).toBe(200);
    runs = res.json().items;
    return runs.every((r) => r.status === 'succeeded' || r.status === 'failed');
  }, `${cloud} cost runs`);
  return runs;
}

async function collectAndWait(cloud: Cloud): Promise<CostRun | undefined> {
  const res = await call('POST', '/v1/costs/collect', { credentialId: credentialIds[cloud], ...RANGE });
  expect(res.statusCode, res.body).toBe(202);
  const [runId] = res.json().runIds as string[];
  return (await costRuns(cloud)).find((r) => r.id === runId);
}

async function healthHistory(cloud: Cloud): Promise<{ status: string; checkedAt: string }[]> {
  const res = await call('GET', `/v1/health/providers/${credentialIds[cloud]}/history?limit=100`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json().items;
}

async function checkAndWait(cloud: Cloud): Promise<{ status: string }> {
  const before = (await healthHistory(cloud)).length;
  const res = await call('POST', '/v1/health/check', { credentialId: credentialIds[cloud] });
  expect(res.statusCode, res.body).toBe(202);
  await until(async () => (await healthHistory(cloud)).length > before, `${cloud} health check`);
  return (await healthHistory(cloud))[0]!;
}

type Item = { externalId: string; region: string; type: string };

async function items(cloud: Cloud): Promise<Item[]> {
  const all: Item[] = [];
  let cursor: string | null = null;
  do {
    const res = await call('GET', `/v1/inventory?provider=${cloud}&limit=500${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.statusCode, res.body).toBe(200);
    const page: { items: Item[]; nextCursor: string | null } = res.json();
    all.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return all;
}

const countByType = (list: Item[]) => list.reduce<Record<string, number>>((acc, i) => ({ ...acc, [i.type]: (acc[i.type] ?? 0) + 1 }), {});

function seeded(cloud: Cloud): Record<string, number> {
  const n = (kind: string) => emu.fleet.count(cloud, kind);
  if (cloud === 'aws') return { vm: n('instances'), storage: n('volumes') + n('buckets'), network: n('vpcs') + n('subnets') + n('securityGroups') };
  if (cloud === 'azure') return { vm: n('virtualMachines'), storage: n('disks'), network: n('virtualNetworks') };
  return { vm: n('instances'), storage: n('disks'), network: n('networks') };
}

/** Ten-thousandths, exactly: every emulated amount has four decimals. */
const units = (amount: string) => {
  const [whole, frac = ''] = amount.split('.');
  return BigInt(whole!) * 10_000n + BigInt(frac.padEnd(4, '0').slice(0, 4));
};

async function costTotal(cloud: Cloud): Promise<bigint> {
  const res = await call('GET', `/v1/costs?credentialId=${credentialIds[cloud]}&from=${RANGE.from}&to=${RANGE.to}`);
  expect(res.statusCode, res.body).toBe(200);
  return units(res.json().total ?? '0');
}

/**
 * The sum of the samples of one metric whose labels include `match`, read from the Prometheus text of /metrics (from
 * loopback, as the installation's scraper reads it: an account's key is refused there).
 */
async function metric(name: string, match: Record<string, string>): Promise<number> {
  const res = await ctx.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' });
  expect(res.statusCode, res.body).toBe(200);
  let sum = 0;
  for (const line of res.body.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)].map(([, k, v]) => [k!, v!]));
    if (Object.entries(match).every(([k, v]) => labels[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

describe('all three clouds under 30% throttling and 5% server errors', () => {
  it('complete every sync, collection and health check, exact, with the retries and backoff in /metrics', async () => {
    // Calm weather first: the inventory every stormy sync must reproduce.
    for (const cloud of CLOUDS) {
      expect(await syncAndWait(cloud), cloud).toMatchObject({ status: 'succeeded', errors: [] });
      expect(countByType(await items(cloud)), cloud).toEqual(seeded(cloud));
    }
    const calmCost = Object.fromEntries(await Promise.all(CLOUDS.map(async (c) => [c, await costTotal(c)] as const)));
    const labels = ['throttled', 'transient'] as const;
    const read = async () => {
      const out: Record<string, number> = {};
      for (const cloud of CLOUDS) {
        out[`${cloud}.throttledCalls`] = await metric('skyloft_cloud_api_calls_total', { provider: cloud, outcome: 'throttled' });
        out[`${cloud}.errorCalls`] = await metric('skyloft_cloud_api_calls_total', { provider: cloud, outcome: 'error' });
        for (const reason of labels) {
          out[`${cloud}.retries.${reason}`] = await metric('skyloft_cloud_api_retries_total', { provider: cloud, reason });
          out[`${cloud}.backoff.${reason}`] = await metric('skyloft_cloud_api_backoff_seconds_total', { provider: cloud, reason });
        }
      }
      return out;
    };
    const before = await read();

    const faults: Record<Cloud, { throttle: Fault; error: Fault }> = {} as never;
    for (const cloud of CLOUDS) {
      faults[cloud] = {
        throttle: emu.faults.add({ cloud, kind: 'throttle', probability: 0.3 }),
        error: emu.faults.add({ cloud, kind: 'server-error', probability: 0.05 }),
      };
    }
    const results: { cloud: Cloud; sync: Record<string, unknown>; cost: CostRun | undefined; health: { status: string } }[] = [];
    try {
      // Three rounds, each cloud's sync, collection and health check side by side: GCP needs few calls per round.
      for (let round = 0; round < ROUNDS; round++) {
        results.push(
          ...(await Promise.all(
            CLOUDS.map(async (cloud) => {
              const [sync, cost, health] = await Promise.all([syncAndWait(cloud), collectAndWait(cloud), checkAndWait(cloud)]);
              return { cloud, sync, cost, health };
            }),
          )),
        );
      }
    } finally {
      emu.faults.clear();
    }

    expect(results).toHaveLength(ROUNDS * CLOUDS.length);
    for (const cloud of CLOUDS) expect(faults[cloud].throttle.injected, cloud).toBeGreaterThan(0);
    for (const { cloud, sync, cost, health } of results) {
      // Nothing lost, nothing invented, nothing changed: the stormy sync agrees with the calm one.
      expect(sync, `${cloud}: ${JSON.stringify(sync)}`).toMatchObject({ status: 'succeeded', errors: [], added: 0, deleted: 0 });
      const stored = await items(cloud);
      expect(countByType(stored), cloud).toEqual(seeded(cloud));
      expect(new Set(stored.map((i) => `${i.region}/${i.externalId}`)).size, cloud).toBe(stored.length);
      // The collection completed and replaced its range with the same figures, never doubled.
      expect(cost, `${cloud}: ${JSON.stringify(cost)}`).toMatchObject({ status: 'succeeded', error: null });
      expect(await costTotal(cloud), cloud).toBe(calmCost[cloud]);
      // A probe reports the weather it saw rather than waiting it out: any status, but it finished.
      expect(['healthy', 'degraded', 'error'], cloud).toContain(health.status);
    }

    const after = await read();
    const delta = (k: string) => after[k]! - before[k]!;
    const report = JSON.stringify({ delta: Object.fromEntries(Object.keys(after).map((k) => [k, delta(k)])), injected: Object.fromEntries(CLOUDS.map((c) => [c, { throttled: faults[c].throttle.injected, errors: faults[c].error.injected }])) });
    for (const cloud of CLOUDS) {
      expect(delta(`${cloud}.throttledCalls`), report).toBeGreaterThan(0);
      expect(delta(`${cloud}.retries.throttled`), report).toBeGreaterThan(0);
      expect(delta(`${cloud}.backoff.throttled`), report).toBeGreaterThan(0);
    }
    // 5% is a handful of calls per cloud: across the three clouds the server errors were counted, retried and waited out.
    expect(CLOUDS.reduce((n, c) => n + faults[c].error.injected, 0), report).toBeGreaterThan(0);
    expect(CLOUDS.reduce((n, c) => n + delta(`${c}.errorCalls`), 0), report).toBeGreaterThan(0);
    expect(CLOUDS.reduce((n, c) => n + delta(`${c}.retries.transient`), 0), report).toBeGreaterThan(0);
    expect(CLOUDS.reduce((n, c) => n + delta(`${c}.backoff.transient`), 0), report).toBeGreaterThan(0);
  }, 300_000);
});
