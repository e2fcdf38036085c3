import { randomUUID } from 'node:crypto';
import { request } from 'node:https';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { COST_API_VERSION, decimal, toLines, windowsOf } from '../../src/clouds/azure/cost.ts';
import { costErrorTranslator } from '../../src/clouds/azure/errors.ts';
import { openCloud, type CloudInput, type OpenedCloud } from '../../src/clouds/index.ts';
import { CloudAuthError, CloudThrottledError, CloudUnavailableError, type CostLine, type CostProgress, type CostRange } from '../../src/clouds/ports.ts';
import { azureCredential } from '../emulator/clients.ts';
import { startEmulator, type Emulator } from '../emulator/emulator.ts';
import { isoDay } from '../emulator/spend.ts';
import { listAll, testBudget, testOutbound } from './support.ts';

const { budget, start: startBudget, stop: stopBudget } = testBudget();
let emu: Emulator;

const PAGE = 50;
const RESOURCES = 12;
const SERVICES = 3;
/** Lines of one day: resources × services plus the account-level 'Azure Support'. */
const PER_DAY = RESOURCES * SERVICES + 1;
const HISTORY = 40;
const TODAY = Math.floor(Date.now() / 86_400_000);
const day = (offset: number) => isoDay(TODAY + offset);

beforeAll(async () => {
  await startBudget();
  emu = await startEmulator({ seed: 31, azure: { costPageSize: PAGE }, spend: { resources: RESOURCES, servicesPerResource: SERVICES, days: HISTORY } });
});
afterEach(() => {
  emu.faults.clear();
  emu.faults.resetCalls();
  emu.spend.billingDenied.clear();
});
afterAll(async () => {
  await emu?.close();
  await stopBudget();
});

function open(overrides: Partial<CloudInput> = {}): Promise<OpenedCloud> {
  const { authorityHost, ...secret } = emu.credentials.azure;
  return openCloud(
    { provider: 'azure', credentialId: randomUUID(), endpoints: { api: emu.urls.azure, authorityHost }, secret, ...overrides },
    { budget, outbound: testOutbound, tls: { ca: emu.urls.caCert } },
  );
}

function progress() {
  const p = { paid: 0, notices: [] as string[] };
  const reporter: CostProgress = { paidRequest: () => void p.paid++, notice: (m) => void p.notices.push(m) };
  return { p, reporter };
}

async function collect(cloud: OpenedCloud, range: CostRange, reporter = progress().reporter): Promise<{ lines: CostLine[]; pages: number[] }> {
  const lines: CostLine[] = [];
  const pages: number[] = [];
  for await (const page of cloud.cost.collect(range, reporter)) {
    pages.push(page.length);
    lines.push(...page);
  }
  return { lines, pages };
}

/** The emulator's own lines of [from, to), as Cost Management would report them. */
function expected(range: CostRange): CostLine[] {
  const sub = emu.credentials.azure.subscriptionId;
  return emu.spend.page('azure', range.from, range.to, 0, 1_000_000).lines.map((l) => ({
    date: l.day,
    service: l.service,
    resourceId: l.item
      ? `/subscriptions/${sub}/resourceGroups/rg-${l.item.scope.region}/providers/Microsoft.Compute/virtualMachines/${l.item.id}`.toLowerCase()
      : null,
    billingAccount: sub,
    currency: l.currency,
    amount: l.amount,
  }));
}

/** A decimal string in units of 10^-8, summed without floats. */
function units(amount: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d{1,8}))?$/.exec(amount);
  if (!m) throw new Error(`not a decimal: ${amount}`);
  const v = BigInt(m[2]!) * 100_000_000n + BigInt((m[3] ?? '').padEnd(8, '0'));
  return m[1] ? -v : v;
}

function sums(lines: CostLine[]): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const l of lines) out[l.currency] = (out[l.currency] ?? 0n) + units(l.amount);
  return out;
}

const keyOf = (l: Omit<CostLine, 'amount'>) => `${l.date}|${l.service}|${l.billingAccount}|${l.resourceId}|${l.currency}`;
const normalized = (lines: CostLine[]) => lines.map((l) => ({ ...l, amount: units(l.amount) })).sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
const byDay = (lines: CostLine[]) => {
  const out = new Map<string, bigint>();
  for (const l of lines) out.set(l.date, (out.get(l.date) ?? 0n) + units(l.amount));
  return out;
};

/** A raw POST to the query route with a real token, for what the adapter never sends. */
async function rawQuery(body: unknown, path = `/subscriptions/${emu.credentials.azure.subscriptionId}/providers/Microsoft.CostManagement/query?api-version=${COST_API_VERSION}`) {
  const token = await azureCredential(emu).getToken('https://management.azure.com/.default');
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise<{ status: number; body: any }>((ok, fail) => {
    const req = request(`${emu.urls.azure}${path}`, {
      method: 'POST',
      ca: emu.urls.caCert,
      headers: { authorization: `Bearer ${token.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => ok({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', fail).end(payload);
  });
}

const query = (from: string, to: string, grouping = ['ServiceName', 'ResourceId']) => ({
  type: 'ActualCost',
  timeframe: 'Custom',
  timePeriod: { from: `${from}T00:00:00Z`, to: `${to}T23:59:59Z` },
  dataset: { granularity: 'Daily', aggregation: { totalCost: { name: 'Cost', function: 'Sum' } }, grouping: grouping.map((name) => ({ type: 'Dimension', name })) },
});

describe('Azure cost through the Cost Management Query API against the emulator', () => {
  it('follows nextLink through every page; the lines are spend\'s, in EUR, with lower-cased ARM ids, and sum to its total', async () => {
    const range = { from: day(-10), to: day(0) };
    const { p, reporter } = progress();
    const { lines, pages } = await collect(await open(), range, reporter);
    const want = expected(range);
    expect(want).toHaveLength(10 * PER_DAY);
    expect(pages.length).toBe(Math.ceil((10 * PER_DAY) / PAGE));
    expect(pages.slice(0, -1).every((n) => n === PAGE)).toBe(true);
    expect(emu.faults.calls('azure', 'query.usage')).toBe(pages.length);
    expect(normalized(lines)).toEqual(normalized(want));
    expect(new Set(lines.map(keyOf)).size).toBe(lines.length);
    expect(sums(lines)).toEqual(sums(want));
    expect(Object.keys(sums(lines))).toEqual(['EUR']);
    expect(lines.every((l) => l.billingAccount === emu.credentials.azure.subscriptionId)).toBe(true);
    // Account-level cost has no resource; every billed resource is a VM inventory knows (ids compared case-blind).
    expect(lines.filter((l) => l.resourceId === null).every((l) => l.service === 'Azure Support')).toBe(true);
    const vms = new Set((await listAll(await open(), { region: 'global', kind: 'compute:virtualMachine' })).map((i) => i.externalId.toLowerCase()));
    const billed = new Set(lines.flatMap((l) => (l.resourceId ? [l.resourceId] : [])));
    expect(billed.size).toBe(RESOURCES);
    for (const id of billed) {
      expect(id).toBe(id.toLowerCase());
      expect(vms.has(id)).toBe(true);
    }
    // Azure does not charge per query.
    expect(p.paid).toBe(0);
  });

  it('turns the exclusive CostRange.to into Azure\'s inclusive last day: no day missing or extra at either end', async () => {
    const cloud = await open();
    const one = await collect(cloud, { from: day(-7), to: day(-6) });
    expect(new Set(one.lines.map((l) => l.date))).toEqual(new Set([day(-7)]));
    expect(one.lines).toHaveLength(PER_DAY);
    const three = await collect(cloud, { from: day(-5), to: day(-2) });
    expect([...byDay(three.lines).keys()].sort()).toEqual([day(-5), day(-4), day(-3)]);
    expect(three.lines).toHaveLength(3 * PER_DAY);
    // An empty range asks nothing.
    emu.faults.resetCalls();
    expect((await collect(cloud, { from: day(-5), to: day(-5) })).lines).toEqual([]);
    expect(emu.faults.calls('azure', 'query.usage')).toBe(0);
  });

  it('sees restated days change and earlier days stay as they were', async () => {
    const cloud = await open();
    const range = { from: day(-8), to: day(0) };
    const before = byDay((await collect(cloud, range)).lines);
    emu.spend.restate('azure', day(-3));
    const after = byDay((await collect(cloud, range)).lines);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [d, total] of before) {
      if (d < day(-3)) expect(after.get(d)).toBe(total);
      else expect(after.get(d)).not.toBe(total);
    }
    expect(sums((await collect(cloud, range)).lines)).toEqual(sums(expected(range)));
  });

  it('completes under throttling: Cost Management\'s 429 with Retry-After is waited out through the budget', async () => {
    emu.faults.add({ cloud: 'azure', operation: 'query.usage', kind: 'throttle', count: 2, retryAfterSeconds: 1 });
    const range = { from: day(-6), to: day(-1) };
    const started = Date.now();
    const { lines, pages } = await collect(await open(), range);
    expect(emu.faults.list()[0]!.injected).toBe(2);
    expect(emu.faults.calls('azure', 'query.usage')).toBe(pages.length + 2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(sums(lines)).toEqual(sums(expected(range)));
  });

  it('completes when a page answers 5xx once, and fails as CloudUnavailableError when it keeps doing so', async () => {
    emu.faults.add({ cloud: 'azure', operation: 'query.usage', kind: 'server-error', everyNth: 2, count: 1 });
    const range = { from: day(-6), to: day(-1) };
    const { lines, pages } = await collect(await open(), range);
    expect(emu.faults.list()[0]!.injected).toBe(1);
    expect(emu.faults.calls('azure', 'query.usage')).toBe(pages.length + 1);
    expect(normalized(lines)).toEqual(normalized(expected(range)));
    emu.faults.clear();
    emu.faults.add({ cloud: 'azure', operation: 'query.usage', kind: 'server-error', status: 503 });
    const err = await collect(await open(), range).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudUnavailableError);
    expect(err).not.toBeInstanceOf(CloudThrottledError);
  });

  it('answers a principal without cost access with CloudAuthError naming the role and how to grant it, without retrying', async () => {
    const { clientId, subscriptionId } = emu.credentials.azure;
    emu.spend.billingDenied.add(clientId);
    const err = await collect(await open(), { from: day(-3), to: day(0) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudAuthError);
    const message = (err as Error).message;
    expect(message).toMatch(/AuthorizationFailed \(HTTP 403\)/);
    expect(message).toContain('Microsoft.CostManagement/query/read');
    expect(message).toContain("'Cost Management Reader'");
    expect(message).toContain(`--assignee ${clientId}`);
    expect(message).toContain(`/subscriptions/${subscriptionId}`);
    expect(emu.faults.calls('azure', 'query.usage')).toBe(1);
    // The same app still lists inventory: only billing is denied.
    await (await open()).health.probe();
  });

  it('splits a range longer than a year into windows the API accepts', async () => {
    expect(windowsOf({ from: '2024-01-01', to: '2025-02-05' })).toEqual([
      { from: '2024-01-01', last: '2024-12-30' },
      { from: '2024-12-31', last: '2025-02-04' },
    ]);
    expect(windowsOf({ from: '2025-03-01', to: '2025-03-01' })).toEqual([]);
    const range = { from: day(-400), to: day(0) };
    const { lines } = await collect(await open(), range);
    // Two windows; the older one is outside the emulator's history and answers an empty first page.
    expect(lines).toHaveLength(HISTORY * PER_DAY);
    expect(sums(lines)).toEqual(sums(expected(range)));
  });

  it('stops early without leaking the page it fetched ahead', async () => {
    const cloud = await open();
    let seen = 0;
    for await (const page of cloud.cost.collect({ from: day(-10), to: day(0) }, progress().reporter)) {
      seen += page.length;
      break;
    }
    expect(seen).toBe(PAGE);
    expect(emu.faults.calls('azure', 'query.usage')).toBeLessThanOrEqual(2);
  });

  it('refuses what Cost Management refuses, in its error shape', async () => {
    const over = await rawQuery(query('2025-01-01', '2026-01-01'));
    expect(over.status).toBe(400);
    expect(over.body.error).toMatchObject({ code: 'BadRequest', message: expect.stringContaining('cannot exceed 1 year(s)') });
    expect((await rawQuery(query('2025-01-01', '2025-12-31'))).status).toBe(200);
    const bad = await rawQuery('{not json');
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'BadRequest' } } });
    const noPeriod = await rawQuery({ ...query(day(-2), day(-1)), timePeriod: undefined });
    expect(noPeriod.body.error.message).toMatch(/timePeriod/);
    const tooMany = await rawQuery(query(day(-2), day(-1), ['ServiceName', 'ResourceId', 'ResourceGroup']));
    expect(tooMany.body.error.message).toMatch(/more than 2/);
    const wrongToken = await rawQuery(query(day(-2), day(-1)), `/subscriptions/${emu.credentials.azure.subscriptionId}/providers/Microsoft.CostManagement/query?api-version=${COST_API_VERSION}&$skiptoken=bm9wZQ`);
    expect(wrongToken).toMatchObject({ status: 400, body: { error: { code: 'BadRequest' } } });
    const noVersion = await rawQuery(query(day(-2), day(-1)), `/subscriptions/${emu.credentials.azure.subscriptionId}/providers/Microsoft.CostManagement/query`);
    expect(noVersion.body.error.code).toBe('MissingApiVersionParameter');
  });

  it('answers with columns in the grouping order asked for, and nextLink on its own origin with a $skiptoken', async () => {
    const answer = await rawQuery(query(day(-2), day(-1), ['ResourceId', 'ServiceName']));
    expect(answer.status).toBe(200);
    const props = answer.body.properties;
    expect(props.columns.map((c: { name: string }) => c.name)).toEqual(['Cost', 'UsageDate', 'ResourceId', 'ServiceName', 'Currency']);
    expect(props.rows).toHaveLength(PAGE);
    expect(props.nextLink).toMatch(new RegExp(`^${emu.urls.azure}/subscriptions/.*/query\\?api-version=${COST_API_VERSION}&\\$skiptoken=`));
    expect(typeof props.rows[0][0]).toBe('number');
    expect(String(props.rows[0][1])).toBe(day(-2).replaceAll('-', ''));
  });
});

describe('Azure cost answers, parsed', () => {
  it('reads columns by name whatever their order, and keeps amounts out of exponent notation', () => {
    const lines = toLines({
      nextLink: null,
      columns: [{ name: 'Currency' }, { name: 'ResourceId' }, { name: 'UsageDate' }, { name: 'ServiceName' }, { name: 'Cost' }],
      rows: [
        ['EUR', '/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/VM1', 20261101, 'Virtual Machines', 12.34],
        ['EUR', '', 20261130, 'Azure Support', 1.5e-7],
      ],
    }, 'sub-1');
    expect(lines).toEqual([
      { date: '2026-11-01', service: 'Virtual Machines', resourceId: '/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1', billingAccount: 'sub-1', currency: 'EUR', amount: '12.34' },
      { date: '2026-11-30', service: 'Azure Support', resourceId: null, billingAccount: 'sub-1', currency: 'EUR', amount: '0.00000015' },
    ]);
    expect(decimal(-2e-10)).toBe('-0.0000000002');
    expect(decimal(1.23e21)).toBe('1230000000000000000000');
    expect(decimal(0)).toBe('0');
    expect(decimal(99.9999)).toBe('99.9999');
    expect(() => toLines({ nextLink: null, columns: [{ name: 'Cost' }], rows: [[1]] }, 's')).toThrow(/UsageDate/);
  });

  it('translates Cost Management\'s own 401 and its per-quota retry-after headers', () => {
    const translate = costErrorTranslator('app-1', 'sub-1');
    const headers = (h: Record<string, string>) => ({ get: (n: string) => h[n] });
    const throttled = translate({ name: 'RestError', statusCode: 429, code: '429', response: { headers: headers({
      'x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after': '7',
      'x-ms-ratelimit-microsoft.costmanagement-entity-retry-after': '20',
      'x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after': '3',
    }) } });
    expect(throttled).toBeInstanceOf(CloudThrottledError);
    expect((throttled as CloudThrottledError).retryAfterMs).toBe(20_000);
    const denied = translate({ name: 'RestError', statusCode: 401, code: 'RBACAccessDenied', details: { error: { message: 'The client does not have authorization to perform action.' } } });
    expect(denied).toBeInstanceOf(CloudAuthError);
    expect(denied.message).toMatch(/RBACAccessDenied \(HTTP 401\).*Cost Management Reader.*--assignee app-1/);
    const expired = translate({ name: 'RestError', statusCode: 401, code: 'ExpiredAuthenticationToken' });
    expect(expired).toBeInstanceOf(CloudAuthError);
    expect(expired.message).not.toMatch(/Cost Management Reader/);
    expect(translate({ name: 'RestError', statusCode: 502, code: 'BadGateway' })).toBeInstanceOf(CloudUnavailableError);
  });
});
