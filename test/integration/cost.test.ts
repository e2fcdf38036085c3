import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, today } from '../../src/modules/cost/days.ts';
import { CostWriter } from '../../src/modules/cost/store.ts';
import { DecimalSum } from '../../src/shared/decimal.ts';
import { newId } from '../../src/shared/ids.ts';
import { startEmulator, type Emulator } from '../emulator/emulator.ts';
import type { Cloud } from '../emulator/options.ts';
import { numericId } from '../emulator/gcp/resources.ts';
import { SERVICES } from '../emulator/spend.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';
import { closeEmulated, startWorkersOnEmulator } from '../support/emulated-workers.ts';
import { emulatedCredentials } from '../support/emulated-credentials.ts';
import { insertResource } from '../support/resources.ts';

/**
 * Cost collection end to end: the API, the in-process worker and the three clouds' billing APIs of the emulator
 * through the real SDKs. Expected figures are computed from the emulator's own spend model.
 */
let ctx: TestContext;
let emu: Emulator;
let stopWorkers: () => Promise<void>;
let key: string;
let accountId: string;
const credentialIds: Record<Cloud, string> = { aws: '', azure: '', gcp: '' };
const TODAY = today();
const BACKFILL = { from: addDays(TODAY, -30), to: addDays(TODAY, 1) };

beforeAll(async () => {
  ctx = await createTestContext();
  emu = await startEmulator({
    seed: 41,
    spend: { resources: 6, servicesPerResource: 2, days: 90 },
    aws: { regions: ['us-east-1'], counts: { instances: 6, volumes: 2, vpcs: 1, subnets: 1, securityGroups: 1, buckets: 1 } },
    azure: { locations: ['eastus'], counts: { virtualMachines: 6, disks: 2, virtualNetworks: 1 } },
    gcp: { zones: ['us-central1-a'], counts: { instances: 6, disks: 2, networks: 1 } },
  });
  stopWorkers = await startWorkersOnEmulator(ctx, emu);
  ({ apiKey: key, accountId } = await ctx.bootstrap());

  const bodies = emulatedCredentials(emu, 'billed', ['us-east-1']);
  for (const cloud of ['aws', 'azure', 'gcp'] as const) {
    const created = await call('POST', '/v1/credentials', bodies[cloud]);
    expect(created.statusCode, created.body).toBe(201);
    credentialIds[cloud] = created.json().id;
  }
  for (const cloud of ['aws', 'azure', 'gcp'] as const) await settled(credentialIds[cloud]);
}, 120_000);

afterAll(() => closeEmulated({ stopWorkers, emu, ctx }));

function call(method: string, url: string, body?: unknown) {
  return ctx.app.inject({ method: method as 'POST', url, headers: bearer(key), ...(body !== undefined && { payload: body as object }) });
}

interface Run { id: string; status: string; trigger: string; from: string; to: string; daysFetched: number; lines: number; paidRequests: number; notices: string[]; error: string | null }

/** Waits until every run of the credential has finished; answers them, newest first. */
async function settled(credentialId: string): Promise<Run[]> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const res = await call('GET', `/v1/costs/runs?credentialId=${credentialId}&limit=100`);
    expect(res.statusCode, res.body).toBe(200);
    const runs: Run[] = res.json().items;
    if (runs.every((r) => r.status === 'succeeded' || r.status === 'failed')) return runs;
    if (Date.now() > deadline) throw new Error(`cost runs still going: ${JSON.stringify(runs)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function collect(body: { credentialId: string; from?: string; to?: string }): Promise<Run> {
  const res = await call('POST', '/v1/costs/collect', body);
  expect(res.statusCode, res.body).toBe(202);
  const [runId] = res.json().runIds as string[];
  const run = (await settled(body.credentialId)).find((r) => r.id === runId);
  expect(run, `run ${runId}`).toBeDefined();
  return run!;
}

/** Ten-thousandths, exactly: every emulated amount has four decimals. */
const units = (amount: string) => {
  const [whole, frac = ''] = amount.split('.');
  return BigInt(whole!) * 10_000n + BigInt(frac.padEnd(4, '0').slice(0, 4));
};
const decimal = (u: bigint) => `${u / 10_000n}.${(u % 10_000n).toString().padStart(4, '0')}`.replace(/\.?0+$/, '');

/** The emulator's spend of one cloud over [from, to), optionally only where `keep` says. */
function expected(cloud: Cloud, from: string, to: string, keep: (l: ReturnType<Emulator['spend']['line']>) => boolean = () => true): bigint {
  return emu.spend.page(cloud, from, to, 0, 1_000_000).lines.filter(keep).reduce((sum, l) => sum + units(l.amount), 0n);
}

async function costs(query: string) {
  const res = await call('GET', `/v1/costs?${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { currency: string | null; total: string | null; totals: { currency: string; amount: string }[]; groups: { key: string; currency: string; amount: string }[]; truncated: boolean };
}

describe('collection', () => {
  it('backfills 30 days through each cloud\'s billing API when a credential is registered', async () => {
    for (const cloud of ['aws', 'azure', 'gcp'] as const) {
      const [run] = (await settled(credentialIds[cloud])).filter((r) => r.trigger === 'backfill');
      expect(run, cloud).toMatchObject({ status: 'succeeded', from: BACKFILL.from, to: BACKFILL.to, daysFetched: 31, error: null });
      expect(run!.lines, cloud).toBeGreaterThan(0);
      const answer = await costs(`credentialId=${credentialIds[cloud]}&from=${BACKFILL.from}&to=${BACKFILL.to}&groupBy=day`);
      expect(answer.currency, cloud).toBe(emu.spend.currencyOf(cloud));
      expect(units(answer.total!), cloud).toBe(expected(cloud, BACKFILL.from, BACKFILL.to));
      expect(answer.groups.length, cloud).toBe(30); // today has no cost yet in the emulator
    }
    const [aws] = await settled(credentialIds.aws);
    expect(aws!.paidRequests).toBeGreaterThanOrEqual(1);
  });

  it('re-collecting a range replaces its figures and never doubles them; restated days change, others do not', async () => {
    const from = addDays(TODAY, -6);
    const byDay = async () => Object.fromEntries((await costs(`credentialId=${credentialIds.aws}&from=${BACKFILL.from}&to=${BACKFILL.to}&groupBy=day`)).groups.map((g) => [g.key, g.amount]));
    const before = await byDay();
    expect(await collect({ credentialId: credentialIds.aws, from, to: addDays(TODAY, 1) })).toMatchObject({ status: 'succeeded', daysFetched: 7 });
    expect(await byDay()).toEqual(before);

    const restatedFrom = addDays(TODAY, -3);
    emu.spend.restate('aws', restatedFrom);
    await collect({ credentialId: credentialIds.aws, from, to: addDays(TODAY, 1) });
    const after = await byDay();
    for (const [day, amount] of Object.entries(after)) {
      if (day < restatedFrom) expect(amount, day).toBe(before[day]);
      else {
        expect(units(amount), day).toBe(expected('aws', day, addDays(day, 1)));
        expect(amount, day).not.toBe(before[day]);
      }
    }
  });

  it('runs two collections of one credential one after the other', async () => {
    const [a, b] = await Promise.all([
      call('POST', '/v1/costs/collect', { credentialId: credentialIds.gcp }),
      call('POST', '/v1/costs/collect', { credentialId: credentialIds.gcp }),
    ]);
    expect([a.statusCode, b.statusCode]).toEqual([202, 202]);
    const runs = await settled(credentialIds.gcp);
    for (const id of [...a.json().runIds, ...b.json().runIds]) expect(runs.find((r) => r.id === id)?.status).toBe('succeeded');
    const answer = await costs(`credentialId=${credentialIds.gcp}&from=${BACKFILL.from}&to=${BACKFILL.to}`);
    expect(units(answer.total!)).toBe(expected('gcp', BACKFILL.from, BACKFILL.to));
  }, 60_000);

  it('records a clear error on the run and on the credential\'s health when billing access is denied', async () => {
    emu.spend.billingDenied.add(emu.credentials.azure.clientId);
    try {
      const run = await collect({ credentialId: credentialIds.azure });
      expect(run.status).toBe('failed');
      expect(run.error).toMatch(/Cost Management Reader/);
      await call('POST', '/v1/health/check', { credentialId: credentialIds.azure });
      const deadline = Date.now() + 30_000;
      let item: { billing: { status: string; error: string | null } } | undefined;
      do {
        item = (await call('GET', '/v1/health/providers')).json().items.find((i: { credentialId: string }) => i.credentialId === credentialIds.azure);
        if (!item) await new Promise((r) => setTimeout(r, 200));
      } while (!item && Date.now() < deadline);
      expect(item?.billing).toMatchObject({ status: 'error', error: run.error });
    } finally {
      emu.spend.billingDenied.delete(emu.credentials.azure.clientId);
    }
    // Access restored: the next collection succeeds and health says so.
    expect((await collect({ credentialId: credentialIds.azure })).status).toBe('succeeded');
  });
});

describe('GET /v1/costs', () => {
  it('never adds different currencies: one total per currency when the range holds several', async () => {
    const answer = await costs(`from=${BACKFILL.from}&to=${BACKFILL.to}&groupBy=provider`);
    expect(answer.currency).toBeNull();
    expect(answer.total).toBeNull();
    const usd = expected('aws', BACKFILL.from, BACKFILL.to) + expected('gcp', BACKFILL.from, BACKFILL.to);
    expect(answer.totals.map((t) => [t.currency, units(t.amount)])).toEqual([['EUR', expected('azure', BACKFILL.from, BACKFILL.to)], ['USD', usd]]);
    expect(answer.groups.map((g) => `${g.key}/${g.currency}`).sort()).toEqual(['aws/USD', 'azure/EUR', 'gcp/USD']);

    const eur = await costs(`from=${BACKFILL.from}&to=${BACKFILL.to}&groupBy=provider&currency=EUR`);
    expect(eur).toMatchObject({ currency: 'EUR', total: decimal(expected('azure', BACKFILL.from, BACKFILL.to)) });
  });

  it('groups by the cloud\'s own service names, and by resource with unattributed cost apart', async () => {
    const byService = await costs(`credentialId=${credentialIds.azure}&from=${BACKFILL.from}&to=${BACKFILL.to}&groupBy=service`);
    expect(byService.groups.map((g) => g.key).sort()).toEqual([...SERVICES.azure.resource.slice(0, 2), ...SERVICES.azure.account].sort());
    for (const g of byService.groups) expect(units(g.amount), g.key).toBe(expected('azure', BACKFILL.from, BACKFILL.to, (l) => l.service === g.key));

    const byResource = await costs(`credentialId=${credentialIds.aws}&from=${addDays(TODAY, -7)}&to=${TODAY}&groupBy=resource`);
    const billed = emu.spend.resource('aws', 0).id;
    const keys = byResource.groups.map((g) => g.key);
    expect(keys).toContain(billed);
    expect(keys).toContain('unattributed');
    const billedGroup = byResource.groups.find((g) => g.key === billed)!;
    expect(units(billedGroup.amount)).toBe(expected('aws', addDays(TODAY, -7), TODAY, (l) => l.item?.id === billed));
    // Largest first.
    const amounts = byResource.groups.map((g) => units(g.amount));
    expect([...amounts].sort((x, y) => (y > x ? 1 : y < x ? -1 : 0))).toEqual(amounts);
  });

  it('refuses bad input with 400 and starts nothing', async () => {
    const runsBefore = (await call('GET', '/v1/costs/runs?limit=100')).json().items.length;
    for (const [method, url, body] of [
      ['GET', `/v1/costs?from=${TODAY}&to=${addDays(TODAY, -1)}`],
      ['GET', `/v1/costs?from=${addDays(TODAY, -500)}&to=${TODAY}`],
      ['GET', '/v1/costs?groupBy=region'],
      ['GET', '/v1/costs?from=2026-02-30'],
      ['GET', '/v1/costs?currency=dollars'],
      ['POST', '/v1/costs/collect', { credentialId: credentialIds.aws, from: TODAY, to: addDays(TODAY, -3) }],
      ['POST', '/v1/costs/collect', { credentialId: credentialIds.aws, from: addDays(TODAY, -420), to: TODAY }],
      ['POST', '/v1/costs/collect', { credentialId: credentialIds.aws, from: TODAY, to: addDays(TODAY, 10) }],
      ['POST', '/v1/costs/collect', { credentialId: credentialIds.aws, extra: true }],
    ] as const) {
      const res = await call(method, url, body);
      expect(res.statusCode, `${method} ${url} ${JSON.stringify(body)}: ${res.body}`).toBe(400);
      expect(res.json().error.message.length).toBeGreaterThan(10);
    }
    expect((await call('POST', '/v1/costs/collect', { credentialId: newId() })).statusCode).toBe(404);
    expect((await call('GET', '/v1/costs/runs?limit=100')).json().items.length).toBe(runsBefore);
  });
});

describe('GET /v1/resources/:id/cost', () => {
  it('joins a managed resource to the cost of the cloud objects inventory linked to it', async () => {
    // GCP bills every day per resource (AWS only the last 14 days); inventory knows a GCE VM by its numeric id.
    const resource = await insertResource(ctx, accountId, { provider: 'gcp', type: 'vm', region: 'us-central1', credentialId: credentialIds.gcp });
    const item = emu.spend.resource('gcp', 1);
    const billed = numericId(item.scope, item.index);
    await ctx.orm.em.getConnection().execute(
      `insert into inventory_items (id, account_id, credential_id, provider, type, kind, region, external_id, name, status, metadata, tags,
                                    content_hash, managed_resource_id, first_seen_at, last_seen_at, last_run_id)
       values (?, ?, ?, 'gcp', 'vm', 'gce:instance', 'global', ?, 'web', 'running', '{}', ?, 'x', ?, now(), now(), ?)`,
      [newId(), accountId, credentialIds.gcp, billed, JSON.stringify({ 'skyloft-resource-id': resource.id }), resource.id, newId()],
    );
    const from = addDays(TODAY, -10);
    const res = await call('GET', `/v1/resources/${resource.id}/cost?from=${from}&to=${TODAY}`);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.externalIds).toEqual([billed]);
    expect(body.days).toHaveLength(10);
    for (const d of body.days) {
      expect(d.currency).toBe('USD');
      expect(units(d.amount), d.date).toBe(expected('gcp', d.date, addDays(d.date, 1), (l) => l.item?.id === item.id));
    }
    const monthStart = `${TODAY.slice(0, 7)}-01`;
    const mtd = expected('gcp', monthStart, TODAY, (l) => l.item?.id === item.id);
    expect(body.monthToDate).toEqual(mtd === 0n ? [] : [{ currency: 'USD', amount: decimal(mtd) }]);

    expect((await call('GET', `/v1/resources/${newId()}/cost`)).statusCode).toBe(404);
  });
});

describe('schedules', () => {
  it('registers a daily collection (02:00 UTC) with the credential and removes it with the credential', async () => {
    const created = await call('POST', '/v1/credentials', { name: 'short-lived', provider: 'sandbox', secret: {} });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as string;
    const schedulers = () => ctx.deps.queues.get('cost').getJobSchedulers(0, -1);
    expect((await schedulers()).find((s) => s.key === `cost_${id}`)).toMatchObject({ pattern: '0 2 * * *', tz: 'UTC' });
    await settled(id);
    expect((await call('DELETE', `/v1/credentials/${id}`)).statusCode).toBe(204);
    expect((await schedulers()).some((s) => s.key === `cost_${id}`)).toBe(false);
  });
});

describe('integrity', () => {
  it('leaves the stored figures untouched when a collection fails half-way', async () => {
    const query = `credentialId=${credentialIds.gcp}&from=${BACKFILL.from}&to=${BACKFILL.to}&groupBy=day`;
    const before = await costs(query);
    // Pages of 50 lines; the third result page is refused for good (not retryable): the run fails after two pages
    // were staged, and what was stored stays as it was.
    await ctx.orm.em.getConnection().execute(`update credentials set options = '{"billingDataset": "${emu.options.gcp.billingDataset}", "billingTable": "${emu.options.gcp.billingTable}", "costPageSize": 50}' where id = ?`, [credentialIds.gcp]);
    emu.faults.add({ cloud: 'gcp', operation: 'jobs.getQueryResults', kind: 'auth', everyNth: 3 });
    try {
      const run = await collect({ credentialId: credentialIds.gcp, from: BACKFILL.from, to: BACKFILL.to });
      expect(run.status).toBe('failed');
      expect(run.error).toBeTruthy();
    } finally {
      emu.faults.clear();
    }
    expect(await costs(query)).toEqual(before);
    expect(emu.faults.calls('gcp', 'jobs.getQueryResults')).toBeGreaterThanOrEqual(3);
  });

  it('stores nothing of a page still on its way to the database when the collection is abandoned', async () => {
    const db = ctx.orm.em.getConnection();
    const credentialId = credentialIds.aws;
    const stored = async () => (await db.execute<{ n: string }[]>(
      `select (select count(*) from cost_data where credential_id = ?) + (select count(*) from cost_keys where credential_id = ? and service = 'abandoned') as n`,
      [credentialId, credentialId]))[0]!.n;
    const before = await stored();
    const day = addDays(TODAY, -400);
    const writer = await CostWriter.open(await db.getNativeClient(), { accountId, credentialId, provider: 'aws' }, { from: day, to: addDays(day, 1) });
    // Not awaited: the page is still being written (its keys, then its COPY) when the collection gives up.
    const written = writer.write([{ date: day, service: 'abandoned', resourceId: null, billingAccount: 'b', currency: 'USD', amount: '1.5' }]);
    await writer.abort();
    await written.catch(() => {});
    expect(await stored()).toBe(before);
  });

  it('keeps per-day totals equal to PostgreSQL\'s own sum of the stored lines, for every credential', async () => {
    const mismatches = await ctx.orm.em.getConnection().execute(`
      with lines as (select d.credential_id, d.usage_date, k.service, k.currency, sum(d.amount) as amount
                       from cost_data d join cost_keys k on k.id = d.key_id group by 1, 2, 3, 4)
      select * from lines l full join cost_daily t using (credential_id, usage_date, service, currency)
       where l.amount is distinct from t.amount`);
    expect(mismatches).toEqual([]);
    const [daily] = await ctx.orm.em.getConnection().execute<{ n: string }[]>('select count(*) as n from cost_daily');
    expect(Number(daily!.n)).toBeGreaterThan(100);
  });

  it('sums amounts exactly as PostgreSQL stores and adds them (numeric(24, 10), rounded half away from zero)', async () => {
    const random = (() => { let x = 7; return () => (x = (x * 48271) % 2147483647) / 2147483647; })();
    const amounts = ['0.00000000005', '-0.00000000005', '0.000000000049999', '1.5E-7', '-2e3', '+3.25', '.5', '7.', '12345678901234.9999999999',
      '-12345678901234.9999999999', '0.12345678905', '1e-11', '99999999999999.99999999994'];
    for (let i = 0; i < 2_000; i++) {
      const whole = Math.floor(random() * 10 ** Math.floor(random() * 12));
      const digits = Math.floor(random() * 16);
      const fraction = Array.from({ length: digits }, () => Math.floor(random() * 10)).join('');
      amounts.push(`${random() < 0.3 ? '-' : ''}${whole}${digits > 0 ? `.${fraction}` : ''}`);
    }
    for (const group of [amounts.slice(0, 13), amounts]) {
      const sum = new DecimalSum();
      for (const a of group) sum.add(a);
      const pool = await ctx.orm.em.getConnection().getNativeClient();
      const { rows } = await pool.query<{ total: string }>('select sum(a::numeric(24, 10))::text as total from unnest($1::text[]) a', [group]);
      expect(sum.toString()).toBe(rows[0]!.total);
    }
    for (const bad of ['', '-', '1.2.3', '1e', 'abc', '1,5', ' 1', '1\t', 'NaN']) expect(() => new DecimalSum().add(bad), bad).toThrow(/not a decimal/);
  });

  it('keeps a deleted credential\'s cost as history, and removes it only with a purge', async () => {
    const created = await call('POST', '/v1/credentials', { ...emulatedCredentials(emu, 'billed').gcp, name: 'billed-gcp-2' });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as string;
    expect((await settled(id))[0]?.status).toBe('succeeded');
    const count = async (table: string) =>
      Number((await ctx.orm.em.getConnection().execute<{ n: string }[]>(`select count(*) as n from ${table} where credential_id = ?`, [id]))[0]!.n);
    const tables = ['cost_data', 'cost_daily', 'cost_keys', 'cost_runs'];
    const before = await Promise.all(tables.map(count));
    expect(before[0]).toBeGreaterThan(0);
    const deleted = await call('DELETE', `/v1/credentials/${id}`);
    expect(deleted.statusCode, deleted.body + ctx.logs.filter((l) => l.includes('"level":50')).join('\n')).toBe(204);
    expect(await Promise.all(tables.map(count))).toEqual(before);
    const purged = await call('DELETE', `/v1/credentials/${id}?purge=true`);
    expect(purged.statusCode, purged.body).toBe(204);
    for (const table of tables) expect(await count(table), table).toBe(0);
  });
});
