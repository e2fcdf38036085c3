import type { Fleet, Item } from './fleet.ts';
import type { Cloud } from './options.ts';
import { mix32 } from './random.ts';

/**
 * Seeded daily spend of each cloud, generated on demand like the fleet: a line is a pure function of (seed, cloud,
 * day, resource, service, the day's restatement version), so a million lines cost no memory and every page can be
 * regenerated from its offset.
 *
 * Per cloud and day the lines are, in this order: for each billed resource (the first `resources` VMs of the fleet,
 * walking its VM scopes round-robin; indexes past a scope's count give well-formed ids of resources that no longer
 * exist) its `servicesPerResource` services, then one line per account-level service with no resource (support, tax).
 * `restate(cloud, fromDay)` changes the amounts of those days and later, as the clouds restate recent days.
 */
export interface SpendOptions {
  /** Billed resources per cloud. Default 20. */
  resources?: number;
  /** Services each resource is billed under (at most the cloud's list). Default 2. */
  servicesPerResource?: number;
  /** Days of history ending yesterday (UTC), the oldest day the cloud answers. Default 90. */
  days?: number;
  currency?: Partial<Record<Cloud, string>>;
  /**
   * Whether the AWS account opted in to resource-level Cost Explorer data (GetCostAndUsageWithResources answers;
   * otherwise it refuses). Default true.
   */
  awsResourceLevel?: boolean;
}

export interface SpendLine {
  /** YYYY-MM-DD */
  day: string;
  service: string;
  /** The billed resource, null for account-level services. */
  item: Item | null;
  /** Decimal string, four decimals. */
  amount: string;
  currency: string;
}

export const SERVICES: Record<Cloud, { resource: readonly string[]; account: readonly string[] }> = {
  aws: {
    resource: ['Amazon Elastic Compute Cloud - Compute', 'EC2 - Other', 'Amazon Elastic Block Store'],
    account: ['AWS Support (Business)', 'Tax'],
  },
  azure: {
    resource: ['Virtual Machines', 'Storage', 'Bandwidth'],
    account: ['Azure Support'],
  },
  gcp: {
    resource: ['Compute Engine', 'Cloud Storage', 'Networking'],
    account: ['Cloud Support'],
  },
};

const VM_KIND: Record<Cloud, string> = { aws: 'instances', azure: 'virtualMachines', gcp: 'instances' };
const DAY_MS = 86_400_000;
const CLOUD_CODE: Record<Cloud, number> = { aws: 1, azure: 2, gcp: 3 };

export class Spend {
  readonly resources: number;
  readonly servicesPerResource: number;
  readonly days: number;
  /** SpendOptions.awsResourceLevel; tests may switch it. */
  awsResourceLevel: boolean;
  private readonly currency: Record<Cloud, string>;
  /** Principals (AWS access key id, Azure client id, GCP client email) refused by the billing APIs. */
  readonly billingDenied = new Set<string>();
  /** Restatement version per (cloud, day number); absent is 0. */
  private readonly versions = new Map<string, number>();

  private readonly fleet: Fleet;
  private readonly seed: number;

  constructor(fleet: Fleet, seed: number, opts: SpendOptions = {}) {
    this.fleet = fleet;
    this.seed = seed;
    this.resources = opts.resources ?? 20;
    this.servicesPerResource = Math.min(opts.servicesPerResource ?? 2, 3);
    this.days = opts.days ?? 90;
    this.awsResourceLevel = opts.awsResourceLevel ?? true;
    this.currency = { aws: 'USD', azure: 'EUR', gcp: 'USD', ...opts.currency };
  }

  currencyOf(cloud: Cloud): string {
    return this.currency[cloud];
  }

  /** Lines of one day: resources × services, then account-level services. */
  linesPerDay(cloud: Cloud): number {
    return this.resources * this.servicesPerResource + SERVICES[cloud].account.length;
  }

  /** The days the cloud has data for within [from, to) (YYYY-MM-DD, `to` exclusive): never today or later. */
  clampRange(from: string, to: string): { first: number; end: number } {
    const today = Math.floor(Date.now() / DAY_MS);
    const first = Math.max(dayNumber(from), today - this.days);
    const end = Math.min(dayNumber(to), today);
    return { first, end: Math.max(first, end) };
  }

  /** Total lines of [from, to). */
  count(cloud: Cloud, from: string, to: string): number {
    const { first, end } = this.clampRange(from, to);
    return (end - first) * this.linesPerDay(cloud);
  }

  /** Up to `limit` lines of [from, to) from `offset` on (the offset is the page token). */
  page(cloud: Cloud, from: string, to: string, offset: number, limit: number): { lines: SpendLine[]; next?: number } {
    const { first, end } = this.clampRange(from, to);
    const perDay = this.linesPerDay(cloud);
    const total = (end - first) * perDay;
    const lines: SpendLine[] = [];
    // Resources repeat every day: each is generated once per page.
    const items = new Map<number, Item>();
    for (let n = offset; n < total && lines.length < limit; n++) lines.push(this.line(cloud, first + Math.floor(n / perDay), n % perDay, items));
    const next = offset + lines.length;
    return next < total ? { lines, next } : { lines };
  }

  /** The n-th line of one day. */
  line(cloud: Cloud, day: number, n: number, items?: Map<number, Item>): SpendLine {
    const resourceLines = this.resources * this.servicesPerResource;
    const version = this.versions.get(`${cloud}/${day}`) ?? 0;
    const base = { day: this.dayName(day), currency: this.currency[cloud] };
    if (n >= resourceLines) {
      const a = n - resourceLines;
      return { ...base, service: SERVICES[cloud].account[a]!, item: null, amount: this.amount(cloud, day, 1_000_000 + a, version) };
    }
    const r = Math.floor(n / this.servicesPerResource);
    const s = n % this.servicesPerResource;
    let item = items?.get(r);
    if (!item) {
      item = this.resource(cloud, r);
      items?.set(r, item);
    }
    return { ...base, service: SERVICES[cloud].resource[s]!, item, amount: this.amount(cloud, day, r * 4 + s, version) };
  }

  /** The r-th billed resource: VM scopes round-robin, so it exists in the fleet while r is small enough. */
  resource(cloud: Cloud, r: number): Item {
    const scopes = this.fleet.scopes(cloud, VM_KIND[cloud]);
    return this.fleet.item(scopes[r % scopes.length]!, Math.floor(r / scopes.length));
  }

  /** Changes the amounts of `fromDay` (YYYY-MM-DD) and every later day, as a cloud restating recent days. */
  restate(cloud: Cloud, fromDay: string): void {
    const today = Math.floor(Date.now() / DAY_MS);
    for (let d = dayNumber(fromDay); d < today; d++) this.versions.set(`${cloud}/${d}`, (this.versions.get(`${cloud}/${d}`) ?? 0) + 1);
  }

  private readonly dayNames = new Map<number, string>();

  private dayName(day: number): string {
    let name = this.dayNames.get(day);
    if (name === undefined) this.dayNames.set(day, (name = isoDay(day)));
    return name;
  }

  private amount(cloud: Cloud, day: number, line: number, version: number): string {
    const h = mix32(this.seed * 8 + CLOUD_CODE[cloud], line, day * 16 + version);
    // 0.0100 to 99.9999, four decimals, as the clouds report unblended cost.
    const units = 100 + (h % 999_900);
    return `${Math.floor(units / 10_000)}.${String(units % 10_000).padStart(4, '0')}`;
  }
}

export function dayNumber(day: string): number {
  const ms = Date.parse(`${day.slice(0, 10)}T00:00:00Z`);
  if (Number.isNaN(ms)) throw new Error(`Not a date: '${day}'`);
  return Math.floor(ms / DAY_MS);
}

export function isoDay(n: number): string {
  return new Date(n * DAY_MS).toISOString().slice(0, 10);
}
