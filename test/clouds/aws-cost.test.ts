import { randomUUID } from 'node:crypto';
import {
  CostExplorerClient,
  GetCostAndUsageCommand,
  GetCostAndUsageWithResourcesCommand,
  type GetCostAndUsageCommandInput,
} from '@aws-sdk/client-cost-explorer';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openCloud, type CloudInput } from '../../src/clouds/index.ts';
import { CloudAuthError, type CostLine } from '../../src/clouds/ports.ts';
import { ceLimits } from '../emulator/aws/cost.ts';
import { awsClientConfig } from '../emulator/clients.ts';
import { startEmulator, type Emulator } from '../emulator/emulator.ts';
import { DEFAULT_AWS_KEY } from '../emulator/options.ts';
import { isoDay } from '../emulator/spend.ts';
import { testBudget, testOutbound } from './support.ts';

const ACCOUNT = DEFAULT_AWS_KEY.accountId;
const DENIED_KEY = { accessKeyId: 'AKIAEMULATOR00000003', secretAccessKey: 'emulator/secret/key/0000000000000000000003', accountId: '123456789012' };
const ROLE = 'arn:aws:iam::210987654321:role/skyloft-cost';
const PAGE = 7;
const { budget, start: startBudget, stop: stopBudget } = testBudget();
const defaults = { ...ceLimits };
let emu: Emulator;

const TODAY = Math.floor(Date.now() / 86_400_000);
const day = (offset: number) => isoDay(TODAY + offset);

beforeAll(async () => {
  await startBudget();
  ceLimits.groupsPerPage = PAGE;
  emu = await startEmulator({
    seed: 33,
    aws: {
      regions: ['us-east-1', 'eu-west-1'],
      counts: { instances: { 'us-east-1': 4, 'eu-west-1': 2 } },
      keys: [DEFAULT_AWS_KEY, DENIED_KEY],
      roles: [{ arn: ROLE }],
    },
    // 6 resources x 2 services + Support + Tax: 14 lines a day.
    spend: { resources: 6, servicesPerResource: 2, days: 60 },
  });
});
afterEach(() => {
  emu.faults.clear();
  emu.faults.resetCalls();
  emu.spend.awsResourceLevel = true;
  Object.assign(ceLimits, defaults, { groupsPerPage: PAGE });
});
afterAll(async () => {
  Object.assign(ceLimits, defaults);
  await emu?.close();
  await stopBudget();
});

function open(overrides: Partial<CloudInput> = {}) {
  return openCloud({
    provider: 'aws',
    credentialId: randomUUID(),
    region: 'eu-west-1',
    endpoints: { api: emu.urls.aws },
    secret: { accessKeyId: DEFAULT_AWS_KEY.accessKeyId, secretAccessKey: DEFAULT_AWS_KEY.secretAccessKey },
    ...overrides,
  }, { budget, outbound: testOutbound });
}

interface Collected {
  pages: CostLine[][];
  lines: CostLine[];
  paid: number;
  notices: string[];
}

async function collect(range: { from: string; to: string }, overrides: Partial<CloudInput> = {}, onPage?: (page: CostLine[]) => void): Promise<Collected> {
  const cloud = await open(overrides);
  const out: Collected = { pages: [], lines: [], paid: 0, notices: [] };
  const progress = { paidRequest: () => void out.paid++, notice: (m: string) => void out.notices.push(m) };
  for await (const page of cloud.cost.collect(range, progress)) {
    out.pages.push(page);
    out.lines.push(...page);
    onPage?.(page);
  }
  return out;
}

/** Ten-thousandths of a decimal string, exactly (spend has four decimals; Cost Explorer sums keep them). */
function units(amount: string): bigint {
  const [whole = '0', frac = ''] = amount.replace('-', '').split('.');
  const v = BigInt(whole) * 10_000n + BigInt(frac.padEnd(4, '0').slice(0, 4));
  expect(frac.length).toBeLessThanOrEqual(4);
  return amount.startsWith('-') ? -v : v;
}

/** The emulator's own spend over [from, to), paged as any reader would. */
function spendOf(from: string, to: string) {
  const lines = [];
  for (let offset: number | undefined = 0; offset !== undefined;) {
    const page = emu.spend.page('aws', from, to, offset, 1000);
    lines.push(...page.lines);
    offset = page.next;
  }
  const perDayService = new Map<string, bigint>();
  let total = 0n;
  for (const l of lines) {
    const k = `${l.day}|${l.service}`;
    perDayService.set(k, (perDayService.get(k) ?? 0n) + units(l.amount));
    total += units(l.amount);
  }
  return { lines, perDayService, total };
}

function sumByDayService(lines: CostLine[]): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const l of lines) out.set(`${l.date}|${l.service}`, (out.get(`${l.date}|${l.service}`) ?? 0n) + units(l.amount));
  return out;
}

function sumByCurrency(lines: CostLine[]): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const l of lines) out.set(l.currency, (out.get(l.currency) ?? 0n) + units(l.amount));
  return out;
}

function expectUniqueKeys(lines: CostLine[]) {
  const keys = new Set(lines.map((l) => `${l.date}|${l.service}|${l.billingAccount}|${l.resourceId}|${l.currency}`));
  expect(keys.size).toBe(lines.length);
}

const lineKey = (l: CostLine) => `${l.date}|${l.service}|${l.resourceId}`;

describe('the AWS cost reader against the emulated Cost Explorer', () => {
  it('pages one aggregate call and one resource call to the end; lines match spend exactly, per resource on the last 14 days', async () => {
    const from = day(-30);
    const to = day(1);
    const got = await collect({ from, to });
    const spend = spendOf(from, to);

    // 30 days x 4 services aggregated, then 14 days x 14 lines with resources, at 7 groups a page.
    const aggregatePages = Math.ceil((30 * 4) / PAGE);
    const resourcePages = Math.ceil((14 * 14) / PAGE);
    expect(emu.faults.calls('aws', 'GetCostAndUsage')).toBe(aggregatePages);
    expect(emu.faults.calls('aws', 'GetCostAndUsageWithResources')).toBe(resourcePages);
    expect(got.paid).toBe(aggregatePages + resourcePages);
    expect(got.notices).toEqual([]);
    expect(got.pages.length).toBeGreaterThan(10);

    expectUniqueKeys(got.lines);
    expect(got.lines.every((l) => l.billingAccount === ACCOUNT && l.currency === 'USD')).toBe(true);
    expect(sumByCurrency(got.lines)).toEqual(new Map([['USD', spend.total]]));
    // Every (day, service) adds up to Cost Explorer's aggregate, i.e. spend's sum.
    expect(sumByDayService(got.lines)).toEqual(spend.perDayService);

    const cutoff = day(-14);
    const old = got.lines.filter((l) => l.date < cutoff);
    expect(old).toHaveLength(16 * 4);
    expect(old.every((l) => l.resourceId === null)).toBe(true);
    // On the recent days the lines are spend's own: each resource's, plus the account-level services as remainders
    // (the resource services' remainder is exactly zero, so it is omitted).
    const recent = got.lines.filter((l) => l.date >= cutoff).map((l) => `${lineKey(l)}|${l.amount}`).sort();
    const expected = spend.lines.filter((l) => l.day >= cutoff).map((l) => `${l.day}|${l.service}|${l.item?.id ?? null}|${l.amount}`).sort();
    expect(recent).toEqual(expected);
    expect(recent.some((k) => /\|i-0[0-9a-f]+\|/.test(k))).toBe(true);
  });

  it('sees restated days change on the next collection while the others stay put', async () => {
    const from = day(-20);
    const to = day(0);
    const before = new Map((await collect({ from, to })).lines.map((l) => [lineKey(l), l.amount]));
    const restatedFrom = day(-5);
    emu.spend.restate('aws', restatedFrom);
    const after = await collect({ from, to });
    expect(sumByDayService(after.lines)).toEqual(spendOf(from, to).perDayService);
    let changed = 0;
    for (const l of after.lines) {
      expect(before.has(lineKey(l))).toBe(true);
      if (l.date < restatedFrom) expect(l.amount).toBe(before.get(lineKey(l)));
      else if (l.amount !== before.get(lineKey(l))) changed++;
    }
    expect(after.lines).toHaveLength(before.size);
    // Five days of 14 lines each were restated; a new amount may equal the old one only by a one-in-a-million chance.
    expect(changed).toBeGreaterThanOrEqual(5 * 14 - 1);
  });

  it('asks no resource-level data for a range older than 14 days: aggregate lines only', async () => {
    const from = day(-40);
    const to = day(-20);
    const got = await collect({ from, to });
    expect(emu.faults.calls('aws', 'GetCostAndUsageWithResources')).toBe(0);
    expect(emu.faults.calls('aws', 'GetCallerIdentity')).toBe(0);
    expect(got.paid).toBe(Math.ceil((20 * 4) / PAGE));
    expect(got.lines).toHaveLength(20 * 4);
    expect(got.lines.every((l) => l.resourceId === null)).toBe(true);
    expect(sumByDayService(got.lines)).toEqual(spendOf(from, to).perDayService);
  });

  it('completes under throttling (LimitExceededException) and a 5xx, counting only the answered pages', async () => {
    emu.faults.add({ cloud: 'aws', operation: 'GetCostAndUsage', kind: 'throttle', count: 2 });
    emu.faults.add({ cloud: 'aws', operation: 'GetCostAndUsageWithResources', kind: 'throttle', count: 1 });
    emu.faults.add({ cloud: 'aws', operation: 'GetCostAndUsage', kind: 'server-error', status: 500, count: 1 });
    const from = day(-10);
    const to = day(0);
    const got = await collect({ from, to });
    const aggregatePages = Math.ceil((10 * 4) / PAGE);
    const resourcePages = Math.ceil((10 * 14) / PAGE);
    expect(emu.faults.list().map((f) => f.injected)).toEqual([2, 1, 1]);
    expect(emu.faults.calls('aws', 'GetCostAndUsage')).toBe(aggregatePages + 3);
    expect(emu.faults.calls('aws', 'GetCostAndUsageWithResources')).toBe(resourcePages + 1);
    expect(got.paid).toBe(aggregatePages + resourcePages);
    expect(got.notices).toEqual([]);
    expectUniqueKeys(got.lines);
    expect(sumByDayService(got.lines)).toEqual(spendOf(from, to).perDayService);
    expect(got.lines.filter((l) => l.resourceId !== null)).toHaveLength(10 * 12);
  });

  it('refuses a principal without billing access with CloudAuthError naming the permission, after one request', async () => {
    emu.spend.billingDenied.add(DENIED_KEY.accessKeyId);
    try {
      const err = await collect({ from: day(-3), to: day(0) }, { secret: { accessKeyId: DENIED_KEY.accessKeyId, secretAccessKey: DENIED_KEY.secretAccessKey } })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CloudAuthError);
      expect((err as Error).message).toMatch(/AccessDeniedException/);
      expect((err as Error).message).toMatch(/not authorized to perform: ce:GetCostAndUsage/);
      expect((err as Error).message).toMatch(/Allow ce:GetCostAndUsage and ce:GetCostAndUsageWithResources .*AWSBillingReadOnlyAccess/);
      expect(emu.faults.calls('aws', 'GetCostAndUsage')).toBe(1);
      expect(emu.faults.calls('aws', 'GetCostAndUsageWithResources')).toBe(0);
    } finally {
      emu.spend.billingDenied.delete(DENIED_KEY.accessKeyId);
    }
  });

  it('without resource-level opt-in: a notice on how to enable it, and the aggregate lines alone', async () => {
    emu.spend.awsResourceLevel = false;
    const from = day(-7);
    const to = day(1);
    const got = await collect({ from, to });
    expect(got.notices).toHaveLength(1);
    expect(got.notices[0]).toMatch(/resource-level data is not enabled/);
    expect(got.notices[0]).toMatch(/Cost Management preferences/);
    expect(emu.faults.calls('aws', 'GetCostAndUsageWithResources')).toBe(1);
    expect(got.paid).toBe(Math.ceil((7 * 4) / PAGE));
    expect(got.lines).toHaveLength(7 * 4);
    expect(got.lines.every((l) => l.resourceId === null)).toBe(true);
    expect(sumByDayService(got.lines)).toEqual(spendOf(from, to).perDayService);
  });

  it('keeps every day exact when resource-level data fails half-way: a notice, the rest in remainder lines', async () => {
    const from = day(-6);
    const to = day(0);
    let resourcePages = 0;
    const got = await collect({ from, to }, {}, (page) => {
      if (page.some((l) => l.resourceId !== null) && ++resourcePages === 3) {
        emu.faults.add({ cloud: 'aws', operation: 'GetCostAndUsageWithResources', kind: 'server-error', status: 500 });
      }
    });
    expect(resourcePages).toBe(3);
    expect(got.notices).toHaveLength(1);
    expect(got.notices[0]).toMatch(/could not be read .*InternalFailure/);
    expect(got.paid).toBe(Math.ceil((6 * 4) / PAGE) + 3);
    expectUniqueKeys(got.lines);
    expect(sumByDayService(got.lines)).toEqual(spendOf(from, to).perDayService);
    // Some (day, service) of resources now has a non-zero remainder standing for the resources not fetched.
    expect(got.lines.some((l) => l.resourceId === null && l.service.startsWith('Amazon Elastic'))).toBe(true);
  });

  it('skips resource-level data when told to (costResourceLevel: false), and reports the own account of an assumed role', async () => {
    const skipped = await collect({ from: day(-3), to: day(0) }, { options: { costResourceLevel: false } });
    expect(emu.faults.calls('aws', 'GetCostAndUsageWithResources')).toBe(0);
    expect(skipped.lines.every((l) => l.resourceId === null)).toBe(true);
    const role = await collect({ from: day(-3), to: day(0) }, { secret: { roleArn: ROLE, accessKeyId: DEFAULT_AWS_KEY.accessKeyId, secretAccessKey: DEFAULT_AWS_KEY.secretAccessKey } });
    expect(new Set(role.lines.map((l) => l.billingAccount))).toEqual(new Set(['210987654321']));
    expect(role.lines.some((l) => l.resourceId !== null)).toBe(true);
  });
});

describe('the emulated Cost Explorer on the wire', () => {
  const client = () => new CostExplorerClient({ ...awsClientConfig(emu), maxAttempts: 1 });
  const base: GetCostAndUsageCommandInput = {
    TimePeriod: { Start: day(-3), End: day(0) },
    Granularity: 'DAILY',
    Metrics: ['UnblendedCost'],
    GroupBy: [{ Type: 'DIMENSION', Key: 'SERVICE' }, { Type: 'DIMENSION', Key: 'LINKED_ACCOUNT' }],
  };

  it('answers the GetCostAndUsage shape, with totals by month and without groups', async () => {
    ceLimits.groupsPerPage = 5000;
    const out = await client().send(new GetCostAndUsageCommand(base));
    expect(out.NextPageToken).toBeUndefined();
    expect(out.ResultsByTime).toHaveLength(3);
    expect(out.ResultsByTime![0]).toMatchObject({ TimePeriod: { Start: day(-3), End: day(-2) }, Total: {}, Estimated: false });
    expect(out.ResultsByTime![0]!.Groups![0]).toEqual({ Keys: ['Amazon Elastic Compute Cloud - Compute', ACCOUNT], Metrics: { UnblendedCost: { Amount: expect.stringMatching(/^\d+\.\d{4}$/), Unit: 'USD' } } });
    expect(out.DimensionValueAttributes).toEqual([{ Value: ACCOUNT, Attributes: { description: 'skyloft-emulator' } }]);
    const total = await client().send(new GetCostAndUsageCommand({ ...base, GroupBy: undefined, Granularity: 'MONTHLY' }));
    const sum = [...spendOf(day(-3), day(0)).perDayService.values()].reduce((a, b) => a + b, 0n);
    const monthly = total.ResultsByTime!.reduce((a, r) => a + units(r.Total!.UnblendedCost!.Amount!), 0n);
    expect(monthly).toBe(sum);
    expect(total.ResultsByTime!.map((r) => r.TimePeriod!.Start!.slice(0, 7))).toEqual([...new Set([day(-3), day(-2), day(-1)].map((d) => d.slice(0, 7)))]);
  });

  it('ends a GetCostAndUsage page at a period boundary once it summed enough spend lines', async () => {
    Object.assign(ceLimits, { groupsPerPage: 5000, linesSummedPerPage: 30 });
    const c = client();
    const days: string[] = [];
    let pages = 0;
    for (let token: string | undefined; pages === 0 || token; pages++) {
      const out = await c.send(new GetCostAndUsageCommand({ ...base, TimePeriod: { Start: day(-9), End: day(0) }, NextPageToken: token }));
      // 14 lines a day: three days (42 lines) pass 30, so a page holds three whole days.
      expect(out.ResultsByTime!.every((r) => r.Groups!.length === 4)).toBe(true);
      days.push(...out.ResultsByTime!.map((r) => r.TimePeriod!.Start!));
      token = out.NextPageToken;
    }
    expect(pages).toBe(3);
    expect(days).toEqual([-9, -8, -7, -6, -5, -4, -3, -2, -1].map(day));
  });

  it('refuses what AWS refuses, with its error names', async () => {
    const c = client();
    const fail = (p: Promise<unknown>) => p.then(() => expect.unreachable(), (e: { name: string; message: string; $metadata: { httpStatusCode?: number } }) => e);
    expect(await fail(c.send(new GetCostAndUsageCommand({ ...base, Granularity: 'WEEKLY' as never })))).toMatchObject({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
    expect(await fail(c.send(new GetCostAndUsageCommand({ ...base, TimePeriod: { Start: day(0), End: day(-1) } })))).toMatchObject({ name: 'ValidationException', message: expect.stringMatching(/before end date/) });
    expect(await fail(c.send(new GetCostAndUsageCommand({ ...base, TimePeriod: { Start: '2024-13-45', End: day(0) } })))).toMatchObject({ name: 'ValidationException' });
    expect(await fail(c.send(new GetCostAndUsageCommand({ ...base, GroupBy: [{ Type: 'DIMENSION', Key: 'RESOURCE_ID' }] })))).toMatchObject({ name: 'ValidationException' });
    const resources = { ...base, GroupBy: [{ Type: 'DIMENSION' as const, Key: 'RESOURCE_ID' as const }, { Type: 'DIMENSION' as const, Key: 'SERVICE' as const }] };
    const filter = { Dimensions: { Key: 'LINKED_ACCOUNT' as const, Values: [ACCOUNT] } };
    expect(await fail(c.send(new GetCostAndUsageWithResourcesCommand(resources as never)))).toMatchObject({ name: 'ValidationException', message: expect.stringMatching(/filter/) });
    expect(await fail(c.send(new GetCostAndUsageWithResourcesCommand({ ...resources, Filter: filter, TimePeriod: { Start: day(-15), End: day(0) } }))))
      .toMatchObject({ name: 'ValidationException', message: expect.stringMatching(/14 days/) });
    const other = await c.send(new GetCostAndUsageWithResourcesCommand({ ...resources, Filter: { Dimensions: { Key: 'LINKED_ACCOUNT', Values: ['999999999999'] } } }));
    expect(other.ResultsByTime!.flatMap((r) => r.Groups ?? [])).toEqual([]);
    // A token only fits the request it came from.
    const first = await c.send(new GetCostAndUsageCommand(base));
    expect(first.NextPageToken).toBeTruthy();
    expect(await fail(c.send(new GetCostAndUsageCommand({ ...base, Metrics: ['BlendedCost'], NextPageToken: first.NextPageToken }))))
      .toMatchObject({ name: 'RequestChangedException' });
    expect(await fail(c.send(new GetCostAndUsageCommand({ ...base, NextPageToken: 'bm90LWEtdG9rZW4' })))).toMatchObject({ name: 'InvalidNextTokenException' });
    // Throttling is Cost Explorer's LimitExceededException; an unknown key its UnrecognizedClientException.
    emu.faults.add({ cloud: 'aws', operation: 'GetCostAndUsage', kind: 'throttle', count: 1 });
    expect(await fail(c.send(new GetCostAndUsageCommand(base)))).toMatchObject({ name: 'LimitExceededException' });
    const stranger = new CostExplorerClient({ ...awsClientConfig(emu, 'us-east-1', { ...DENIED_KEY, accessKeyId: 'AKIAUNKNOWN000000000' }), maxAttempts: 1 });
    expect(await fail(stranger.send(new GetCostAndUsageCommand(base)))).toMatchObject({ name: 'UnrecognizedClientException' });
  });
});
