import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openCloud, type CloudInput, type OpenedCloud } from '../../src/clouds/index.ts';
import { resourceId } from '../../src/clouds/gcp/cost.ts';
import { CloudAuthError, type CostLine, type CostRange } from '../../src/clouds/ports.ts';
import { UnprocessableError } from '../../src/shared/errors.ts';
import { startEmulator, type Emulator } from '../emulator/emulator.ts';
import { numericId } from '../emulator/gcp/resources.ts';
import { DEFAULT_GCP_BILLING } from '../emulator/options.ts';
import { isoDay, type Spend } from '../emulator/spend.ts';
import { listAll, testBudget, testOutbound } from './support.ts';

const { budget, start: startBudget, stop: stopBudget } = testBudget();
let emu: Emulator;

const today = Math.floor(Date.now() / 86_400_000);
const RANGE: CostRange = { from: isoDay(today - 10), to: isoDay(today) };
const BILLING = { billingDataset: DEFAULT_GCP_BILLING.dataset, billingTable: DEFAULT_GCP_BILLING.table };

beforeAll(async () => {
  await startBudget();
  emu = await startEmulator({
    seed: 41,
    gcp: { counts: { instances: { 'us-central1-a': 9, 'us-central1-b': 4, 'europe-west1-b': 7, 'asia-east1-a': 0 } } },
    spend: { resources: 15, servicesPerResource: 3, days: 30 },
  });
});
afterEach(() => {
  emu.faults.clear();
  emu.faults.resetCalls();
});
afterAll(async () => {
  await emu?.close();
  await stopBudget();
});

function open(options: Record<string, unknown> = { costPageSize: 50, ...BILLING }, overrides: Partial<CloudInput> = {}, target = emu): Promise<OpenedCloud> {
  const g = target.credentials.gcp;
  return openCloud({
    provider: 'gcp',
    credentialId: randomUUID(),
    endpoints: { api: target.urls.gcp },
    options,
    secret: { serviceAccountJson: JSON.stringify(g.serviceAccountKey), projectId: g.projectId },
    ...overrides,
  }, { budget, outbound: testOutbound });
}

interface Collected {
  lines: CostLine[];
  pages: number[];
  paid: number;
  notices: string[];
}

async function collect(cloud: OpenedCloud, range = RANGE): Promise<Collected> {
  const out: Collected = { lines: [], pages: [], paid: 0, notices: [] };
  const progress = { paidRequest: () => void out.paid++, notice: (m: string) => void out.notices.push(m) };
  for await (const page of cloud.cost.collect(range, progress)) {
    out.pages.push(page.length);
    out.lines.push(...page);
  }
  return out;
}

/** Sum per currency of four-decimal (or shorter) strings, exactly. */
function sums(amounts: Array<{ currency: string; amount: string }>): Record<string, string> {
  const total = new Map<string, bigint>();
  for (const { currency, amount } of amounts) {
    const [whole, frac = ''] = amount.split('.');
    const scaled = BigInt(`${whole}${frac.padEnd(4, '0')}`);
    total.set(currency, (total.get(currency) ?? 0n) + scaled);
  }
  return Object.fromEntries([...total].map(([c, v]) => [c, `${v / 10_000n}.${String(v % 10_000n).padStart(4, '0')}`]));
}

function spendLines(spend: Spend, range = RANGE) {
  return spend.page('gcp', range.from, range.to, 0, 1_000_000).lines;
}

const keyOf = (l: CostLine) => `${l.date}|${l.service}|${l.billingAccount}|${l.resourceId}|${l.currency}`;

describe('GCP cost from the Cloud Billing export in BigQuery (emulator, real SDK)', () => {
  it('runs one query job and follows every result page, lines matching the seeded spend', async () => {
    const got = await collect(await open());
    const expected = spendLines(emu.spend);
    const count = emu.spend.count('gcp', RANGE.from, RANGE.to);
    expect(count).toBe(10 * (15 * 3 + 1));
    expect(got.lines).toHaveLength(count);
    expect(got.pages).toEqual([...Array(Math.ceil(count / 50)).keys()].map((i) => Math.min(50, count - i * 50)));
    expect(got.paid).toBe(1);
    expect(got.notices).toEqual([]);
    expect(emu.faults.calls('gcp', 'jobs.insert')).toBe(1);
    expect(emu.faults.calls('gcp', 'jobs.getQueryResults')).toBe(got.pages.length);
    expect(sums(got.lines)).toEqual(sums(expected));
    expect(new Set(got.lines.map(keyOf)).size).toBe(count);
    const project = emu.credentials.gcp.projectId;
    got.lines.forEach((line, i) => {
      const s = expected[i]!;
      expect(line).toEqual({
        date: s.day,
        service: s.service,
        resourceId: s.item ? numericId(s.item.scope, s.item.index) : null,
        billingAccount: project,
        currency: 'USD',
        amount: s.amount,
      });
    });
  });

  it('maps Compute Engine global names to the numeric ids inventory uses', async () => {
    const cloud = await open();
    const { lines } = await collect(cloud);
    const inventory = new Set((await listAll(cloud, { region: 'global', kind: 'gce:instance' })).map((i) => i.externalId));
    const billed = new Set(lines.map((l) => l.resourceId).filter((r): r is string => r !== null));
    expect(billed.size).toBe(15);
    // Spend bills the fleet's VMs round-robin over zones; past a zone's count they are VMs deleted since.
    const counts: Record<string, number> = { 'us-central1-a': 9, 'us-central1-b': 4, 'europe-west1-b': 7, 'asia-east1-a': 0 };
    let existing = 0;
    for (let r = 0; r < 15; r++) {
      const item = emu.spend.resource('gcp', r);
      const id = numericId(item.scope, item.index);
      expect(id).toMatch(/^\d{19}$/);
      expect(billed.has(id)).toBe(true);
      const exists = item.index < counts[item.scope.region]!;
      expect(inventory.has(id)).toBe(exists);
      if (exists) existing++;
    }
    expect(existing).toBeGreaterThanOrEqual(11);
    expect(lines.filter((l) => l.resourceId === null).every((l) => l.service === 'Cloud Support')).toBe(true);
    expect(resourceId('//compute.googleapis.com/projects/p/zones/us-central1-a/instances/1234567890123456789')).toBe('1234567890123456789');
    expect(resourceId('//compute.googleapis.com/projects/p/zones/us-central1-a/disks/1234')).toBe('//compute.googleapis.com/projects/p/zones/us-central1-a/disks/1234');
    expect(resourceId('//compute.googleapis.com/projects/p/zones/us-central1-a/instances/web-1')).toBe('//compute.googleapis.com/projects/p/zones/us-central1-a/instances/web-1');
    expect(resourceId('//storage.googleapis.com/projects/_/buckets/logs')).toBe('//storage.googleapis.com/projects/_/buckets/logs');
    expect(resourceId('')).toBeNull();
    expect(resourceId(null)).toBeNull();
  });

  it('accepts billingDataset as "project.dataset" and pages with the default large page size', async () => {
    const { projectId } = emu.credentials.gcp;
    const got = await collect(await open({ billingDataset: `${projectId}.${DEFAULT_GCP_BILLING.dataset}`, billingTable: DEFAULT_GCP_BILLING.table }));
    expect(got.pages).toEqual([emu.spend.count('gcp', RANGE.from, RANGE.to)]);
    expect(emu.faults.calls('gcp', 'jobs.getQueryResults')).toBe(1);
  });

  it('sees restated days change and the others stay as they were', async () => {
    const cloud = await open();
    const before = await collect(cloud);
    const restatedFrom = isoDay(today - 3);
    emu.spend.restate('gcp', restatedFrom);
    const after = await collect(cloud);
    expect(after.lines.map(keyOf)).toEqual(before.lines.map(keyOf));
    let changed = 0;
    before.lines.forEach((line, i) => {
      const now = after.lines[i]!;
      if (line.date < restatedFrom) expect(now.amount).toBe(line.amount);
      else if (now.amount !== line.amount) changed++;
    });
    const restatedLines = before.lines.filter((l) => l.date >= restatedFrom).length;
    expect(restatedLines).toBe(3 * 46);
    expect(changed).toBeGreaterThan(restatedLines * 0.9);
    expect(sums(after.lines)).toEqual(sums(spendLines(emu.spend)));
    expect(sums(after.lines)).not.toEqual(sums(before.lines));
    expect(after.paid).toBe(1);
  });

  it('completes through throttling (403 rateLimitExceeded) on the insert and on result pages', async () => {
    emu.faults.add({ cloud: 'gcp', operation: 'jobs.insert', kind: 'throttle', count: 1 });
    emu.faults.add({ cloud: 'gcp', operation: 'jobs.getQueryResults', kind: 'throttle', count: 2 });
    const got = await collect(await open());
    expect(emu.faults.list().map((f) => f.injected)).toEqual([1, 2]);
    expect(got.lines).toHaveLength(emu.spend.count('gcp', RANGE.from, RANGE.to));
    expect(sums(got.lines)).toEqual(sums(spendLines(emu.spend)));
    expect(got.paid).toBe(1);
    expect(emu.faults.calls('gcp', 'jobs.insert')).toBe(2);
    expect(emu.faults.calls('gcp', 'jobs.getQueryResults')).toBe(got.pages.length + 2);
  });

  it('completes through 5xx answers, retried as transient', async () => {
    emu.faults.add({ cloud: 'gcp', operation: 'jobs.insert', kind: 'server-error', status: 500, count: 1 });
    emu.faults.add({ cloud: 'gcp', operation: 'jobs.getQueryResults', kind: 'server-error', status: 503, everyNth: 3, count: 2 });
    const got = await collect(await open());
    expect(emu.faults.list().map((f) => f.injected)).toEqual([1, 2]);
    expect(got.lines).toHaveLength(emu.spend.count('gcp', RANGE.from, RANGE.to));
    expect(new Set(got.lines.map(keyOf)).size).toBe(got.lines.length);
    expect(sums(got.lines)).toEqual(sums(spendLines(emu.spend)));
    expect(got.paid).toBe(1);
  });

  it('finds its own job when a retried insert meets it (the first answer was lost), paying once', async () => {
    // The first insert answers after the 200 ms attempt timeout, having created the job; the retry (same job id)
    // gets 409 Already Exists and reads that job's results instead of running the query again.
    emu.faults.add({ cloud: 'gcp', operation: 'jobs.insert', kind: 'latency', latencyMs: 250, count: 1 });
    const got = await collect(await open({ costPageSize: 500, timeoutMs: 200, ...BILLING }));
    expect(emu.faults.calls('gcp', 'jobs.insert')).toBe(2);
    expect(got.lines).toHaveLength(emu.spend.count('gcp', RANGE.from, RANGE.to));
    expect(sums(got.lines)).toEqual(sums(spendLines(emu.spend)));
    expect(got.paid).toBe(1);
  });

  it('refuses a service account without BigQuery access with CloudAuthError naming the roles to grant', async () => {
    const email = emu.credentials.gcp.serviceAccountKey.client_email;
    emu.spend.billingDenied.add(email);
    try {
      const progress = { paid: 0 };
      const err = await (async () => {
        for await (const _ of (await open()).cost.collect(RANGE, { paidRequest: () => void progress.paid++, notice: () => {} })) void _;
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CloudAuthError);
      const message = (err as Error).message;
      expect(message).toMatch(/accessDenied \(HTTP 403\): Access Denied: Table/);
      expect(message).toContain('roles/bigquery.jobUser on project skyloft-emulator');
      expect(message).toContain('roles/bigquery.dataViewer on the billing export dataset skyloft-emulator.billing_export');
      expect(message).toContain(`serviceAccount:${email}`);
      expect(progress.paid).toBe(0);
      // Not retried: a permission answer is final.
      expect(emu.faults.calls('gcp', 'jobs.insert')).toBe(1);
    } finally {
      emu.spend.billingDenied.delete(email);
    }
  });

  it('refuses missing or malformed billing options before calling BigQuery', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{}, /billingDataset .*billingTable/],
      [{ billingDataset: 'billing_export' }, /needs the Cloud Billing BigQuery export/],
      [{ billingDataset: 'billing-export', billingTable: DEFAULT_GCP_BILLING.table }, /'billing-export' is not a dataset name/],
      [{ billingDataset: 'billing_export', billingTable: 'gcp_billing` WHERE 1=1 --' }, /is not a table name/],
      [{ billingDataset: 'Bad_Project.billing_export', billingTable: DEFAULT_GCP_BILLING.table }, /'Bad_Project' is not a project id/],
    ];
    for (const [options, message] of cases) {
      const err = await collect(await open(options)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnprocessableError);
      expect((err as UnprocessableError).retryable).toBe(false);
      expect((err as Error).message).toMatch(message);
    }
    expect(emu.faults.calls('gcp', 'jobs.insert')).toBe(0);
  });

  it('answers an unknown table or dataset with a non-retryable error naming it', async () => {
    const err = await collect(await open({ billingDataset: 'billing_export', billingTable: 'gcp_billing_export_resource_v1_000000_000000_000000' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnprocessableError);
    expect((err as UnprocessableError).retryable).toBe(false);
    expect((err as Error).message).toMatch(/notFound \(HTTP 404\): Not found: Table skyloft-emulator:billing_export\.gcp_billing_export_resource_v1_000000_000000_000000/);
    expect((err as Error).message).toContain('billingDataset and billingTable');
    expect(emu.faults.calls('gcp', 'jobs.insert')).toBe(1);
    const other = await collect(await open({ billingDataset: 'other_dataset', billingTable: DEFAULT_GCP_BILLING.table })).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(UnprocessableError);
    expect((other as Error).message).toMatch(/Not found: Dataset skyloft-emulator:other_dataset/);
  });

  it('counts one paid request per collection, however many pages', async () => {
    const cloud = await open({ costPageSize: 7, ...BILLING });
    const first = await collect(cloud, { from: isoDay(today - 2), to: isoDay(today) });
    const second = await collect(cloud, { from: isoDay(today - 5), to: isoDay(today) });
    expect(first.pages.length).toBe(Math.ceil((2 * 46) / 7));
    expect(second.pages.length).toBe(Math.ceil((5 * 46) / 7));
    expect([first.paid, second.paid]).toEqual([1, 1]);
    expect(emu.faults.calls('gcp', 'jobs.insert')).toBe(2);
  });

  it('reads the standard export (no resource column) with a notice and no resource ids', async () => {
    const standard = await startEmulator({ seed: 41, spend: { resources: 6, servicesPerResource: 2, days: 30 }, gcp: { billingTable: 'gcp_billing_export_v1_012345_6789AB_CDEF01' } });
    try {
      const got = await collect(await open({ costPageSize: 4, billingDataset: 'billing_export', billingTable: 'gcp_billing_export_v1_012345_6789AB_CDEF01' }, {}, standard));
      expect(got.notices).toHaveLength(1);
      expect(got.notices[0]).toMatch(/standard usage cost export.*gcp_billing_export_resource_v1_/);
      expect(got.lines).toHaveLength(10 * 3);
      expect(got.lines.every((l) => l.resourceId === null)).toBe(true);
      expect(new Set(got.lines.map(keyOf)).size).toBe(got.lines.length);
      // The same money as the resource-level lines, summed per (day, service).
      expect(sums(got.lines)).toEqual(sums(spendLines(standard.spend)));
      expect(got.paid).toBe(1);
    } finally {
      await standard.close();
    }
  });
});
