import { createHash } from 'node:crypto';
import { requestId, type Request, type Response } from '../http.ts';
import { SERVICES, dayNumber, isoDay, type Spend, type SpendLine } from '../spend.ts';
import { awsError } from './errors.ts';
import type { Principal } from './keys.ts';

/**
 * AWS Cost Explorer (service `ce`, us-east-1, JSON 1.1: POST with `X-Amz-Target: AWSInsightsIndexService.<Op>`) over
 * the seeded spend of the caller's account:
 *
 * - GetCostAndUsage: spend summed per period (DAILY or MONTHLY) and GroupBy (SERVICE and/or LINKED_ACCOUNT), in exact
 *   integer ten-thousandths. Pages hold at most `ceLimits.groupsPerPage` groups; the NextPageToken is the group offset
 *   (plus a fingerprint of the request, so a changed request answers RequestChangedException as AWS does). A page
 *   sums only the periods it shows, from spend's lines, so a page costs no memory beyond itself.
 * - GetCostAndUsageWithResources: spend's own lines grouped by RESOURCE_ID and SERVICE (a line without a resource is
 *   `NoResourceId`, as AWS reports it), DAILY only, for the last 14 days only (an older Start is a
 *   ValidationException), Filter required, refused with AccessDeniedException unless the account opted in to
 *   resource-level data (`spend.awsResourceLevel`). The token is the line offset.
 *
 * A principal in `spend.billingDenied` gets AccessDeniedException for both. Filters implemented: Dimensions on
 * SERVICE and LINKED_ACCOUNT (EQUALS), and And/Or/Not of those; anything else is refused with a clear
 * ValidationException rather than ignored.
 */
export const CE_TARGET_PREFIX = 'AWSInsightsIndexService.';

/**
 * Groups per page (tests lower it to get many pages from little data; EMULATOR_CE_PAGE_GROUPS sets it in a process),
 * and the spend lines one GetCostAndUsage page may sum before it ends at a period's boundary, so one page of a big
 * fleet's year stays a few seconds of work (AWS promises no page size either).
 */
export const ceLimits = {
  groupsPerPage: positiveInt(process.env.EMULATOR_CE_PAGE_GROUPS) ?? 5000,
  linesSummedPerPage: 500_000,
  resourceDays: 14,
};

const OPERATIONS = new Set(['GetCostAndUsage', 'GetCostAndUsageWithResources']);
const COST_METRICS = new Set(['AmortizedCost', 'BlendedCost', 'NetAmortizedCost', 'NetUnblendedCost', 'UnblendedCost']);
const USAGE_METRICS = new Set(['NormalizedUsageAmount', 'UsageQuantity']);
const GRANULARITIES = ['DAILY', 'MONTHLY', 'HOURLY'];
const DATE = /^(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}:\d{2}Z)?$/;
const DAY_MS = 86_400_000;
const NO_RESOURCE = 'NoResourceId';

interface GroupDefinition {
  Type?: string;
  Key?: string;
}

interface Expression {
  And?: Expression[];
  Or?: Expression[];
  Not?: Expression;
  Dimensions?: { Key?: string; Values?: string[]; MatchOptions?: string[] };
  Tags?: unknown;
  CostCategories?: unknown;
}

interface CeRequest {
  TimePeriod?: { Start?: string; End?: string };
  Granularity?: string;
  Metrics?: string[];
  GroupBy?: GroupDefinition[];
  Filter?: Expression;
  NextPageToken?: string;
}

type Match = (service: string, account: string) => boolean;
type Dim = 'SERVICE' | 'LINKED_ACCOUNT' | 'RESOURCE_ID';

class Invalid extends Error {
  readonly code: string;

  constructor(message: string, code = 'ValidationException') {
    super(message);
    this.code = code;
  }
}

/** The operation of a Cost Explorer request, from its X-Amz-Target header. */
export function ceOperation(req: Request): string | undefined {
  const target = req.headers['x-amz-target'];
  const value = Array.isArray(target) ? target[0] : target;
  return value?.startsWith(CE_TARGET_PREFIX) ? value.slice(CE_TARGET_PREFIX.length) : undefined;
}

export function ce(operation: string, body: string, caller: Principal, accessKeyId: string, spend: Spend): Response {
  if (!OPERATIONS.has(operation)) return awsError('ce', 400, 'UnknownOperationException', `The emulator does not implement Cost Explorer ${operation}`);
  if (spend.billingDenied.has(accessKeyId)) {
    return awsError('ce', 400, 'AccessDeniedException',
      `User: ${caller.arn} is not authorized to perform: ce:${operation} on resource: arn:aws:ce:us-east-1:${caller.accountId}:/${operation} because no identity-based policy allows the ce:${operation} action`);
  }
  let request: CeRequest;
  try {
    request = JSON.parse(body || '{}') as CeRequest;
    if (typeof request !== 'object' || request === null || Array.isArray(request)) throw new Error('not an object');
  } catch {
    return awsError('ce', 400, 'SerializationException', 'Start of structure or map found where not expected.');
  }
  try {
    return operation === 'GetCostAndUsage' ? costAndUsage(request, caller.accountId, spend) : withResources(request, caller.accountId, spend);
  } catch (err) {
    if (err instanceof Invalid) return awsError('ce', 400, err.code, err.message);
    throw err;
  }
}

/** What both operations validate the same way. */
function common(r: CeRequest, op: string, dimsAllowed: readonly Dim[]) {
  const start = r.TimePeriod?.Start;
  const end = r.TimePeriod?.End;
  if (!start || !end) throw new Invalid(`1 validation error detected: Value null at 'timePeriod.${start ? 'end' : 'start'}' failed to satisfy constraint: Member must not be null`);
  for (const [name, value] of [['start', start], ['end', end]] as const) {
    const m = DATE.exec(value);
    if (!m || Number.isNaN(Date.parse(`${m[1]}T00:00:00Z`))) {
      throw new Invalid(`1 validation error detected: Value '${value}' at 'timePeriod.${name}' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\d{4}-\\d{2}-\\d{2})(T\\d{2}:\\d{2}:\\d{2}Z)?`);
    }
  }
  if (start >= end) throw new Invalid('Start date (and hour) should be before end date (and hour)');
  const today = Math.floor(Date.now() / DAY_MS);
  if (dayNumber(start) > today) throw new Invalid('Start date must be equal to or no later than the current date');
  if (r.Granularity === undefined) throw new Invalid("1 validation error detected: Value null at 'granularity' failed to satisfy constraint: Member must not be null");
  if (!GRANULARITIES.includes(r.Granularity)) {
    throw new Invalid(`1 validation error detected: Value '${r.Granularity}' at 'granularity' failed to satisfy constraint: Member must satisfy enum value set: [DAILY, MONTHLY, HOURLY]`);
  }
  if (r.Granularity === 'HOURLY') {
    throw new Invalid(op === 'GetCostAndUsage'
      ? 'Hourly granularity is not enabled for this account: opt in to hourly data in the Cost Management preferences'
      : 'Hourly granularity is only available for EC2-Instances resource-level data, which this account has not enabled');
  }
  const metrics = r.Metrics ?? [];
  if (metrics.length === 0) throw new Invalid("1 validation error detected: Value null at 'metrics' failed to satisfy constraint: Member must not be null");
  for (const m of metrics) {
    if (!COST_METRICS.has(m) && !USAGE_METRICS.has(m)) {
      throw new Invalid(`Metrics are invalid: '${m}'. Valid values are AmortizedCost, BlendedCost, NetAmortizedCost, NetUnblendedCost, NormalizedUsageAmount, UnblendedCost, UsageQuantity`);
    }
  }
  const groupBy = r.GroupBy ?? [];
  if (groupBy.length > 2) throw new Invalid('Only two group by dimensions are allowed');
  const dims: Dim[] = [];
  for (const g of groupBy) {
    if (g.Type !== 'DIMENSION' && g.Type !== 'TAG' && g.Type !== 'COST_CATEGORY') {
      throw new Invalid(`1 validation error detected: Value '${g.Type}' at 'groupBy.1.member.type' failed to satisfy constraint: Member must satisfy enum value set: [DIMENSION, TAG, COST_CATEGORY]`);
    }
    if (g.Type !== 'DIMENSION') throw new Invalid(`The emulator implements DIMENSION groups only, not ${g.Type}`);
    if (g.Key === 'RESOURCE_ID' && !dimsAllowed.includes('RESOURCE_ID')) throw new Invalid('Dimension RESOURCE_ID is not allowed. Use GetCostAndUsageWithResources for resource-level data');
    if (!dimsAllowed.includes(g.Key as Dim)) {
      throw new Invalid(`Group Definition dimension is invalid. The emulator implements ${dimsAllowed.join(', ')}; got '${g.Key}'`);
    }
    if (dims.includes(g.Key as Dim)) throw new Invalid(`Group Definition dimension ${g.Key} is duplicated`);
    dims.push(g.Key as Dim);
  }
  return { start, end, granularity: r.Granularity, metrics, groupBy, dims, today };
}

function filterOf(e: Expression | undefined, path = 'filter'): Match {
  if (e === undefined) return () => true;
  const parts = [e.And, e.Or, e.Not, e.Dimensions, e.Tags, e.CostCategories].filter((p) => p !== undefined).length;
  if (parts !== 1) throw new Invalid(`Expression at '${path}' must have exactly one of And, Or, Not, Dimensions, Tags, CostCategories`);
  if (e.And || e.Or) {
    const list = (e.And ?? e.Or)!;
    if (list.length < 2) throw new Invalid(`${e.And ? 'And' : 'Or'} expression at '${path}' must contain at least 2 expressions`);
    const subs = list.map((x, i) => filterOf(x, `${path}.${e.And ? 'and' : 'or'}.${i + 1}`));
    return e.And ? (s, a) => subs.every((f) => f(s, a)) : (s, a) => subs.some((f) => f(s, a));
  }
  if (e.Not) {
    const sub = filterOf(e.Not, `${path}.not`);
    return (s, a) => !sub(s, a);
  }
  if (e.Dimensions) {
    const { Key, Values = [], MatchOptions } = e.Dimensions;
    if (MatchOptions && MatchOptions.some((o) => o !== 'EQUALS')) throw new Invalid(`The emulator implements the EQUALS match option only, not ${MatchOptions.join(', ')}`);
    if (Values.length === 0) throw new Invalid(`Dimension values at '${path}.dimensions' must not be empty`);
    const values = new Set(Values);
    if (Key === 'SERVICE') return (s) => values.has(s);
    if (Key === 'LINKED_ACCOUNT') return (_s, a) => values.has(a);
    throw new Invalid(`The emulator implements filters on SERVICE and LINKED_ACCOUNT only, not ${Key}`);
  }
  throw new Invalid('The emulator implements Dimensions filters only, not Tags or CostCategories');
}

/** A page token: the offset and a fingerprint of everything else in the request. */
function fingerprint(op: string, r: CeRequest): string {
  const { NextPageToken: _, ...rest } = r;
  return createHash('sha256').update(op).update(JSON.stringify(rest)).digest('base64url').slice(0, 16);
}

function offsetOf(op: string, r: CeRequest, total: number): number {
  if (r.NextPageToken === undefined) return 0;
  const [offset, print] = Buffer.from(r.NextPageToken, 'base64url').toString('utf8').split('.');
  const n = Number(offset);
  if (!print || !Number.isInteger(n) || n <= 0) throw new Invalid('Invalid NextPageToken', 'InvalidNextTokenException');
  if (print !== fingerprint(op, r)) {
    throw new Invalid('Your request parameters changed between pages. Try again with the old parameters or without a pagination token.', 'RequestChangedException');
  }
  if (n >= total) throw new Invalid('Invalid NextPageToken', 'InvalidNextTokenException');
  return n;
}

function tokenOf(op: string, r: CeRequest, offset: number): string {
  return Buffer.from(`${offset}.${fingerprint(op, r)}`).toString('base64url');
}

/** Ten-thousandths of spend's four-decimal amount strings, without a regex or a float. */
function units(amount: string): number {
  const dot = amount.length - 5;
  return Number(amount.slice(0, dot)) * 10_000 + Number(amount.slice(dot + 1));
}

function decimal(u: number): string {
  const frac = u % 10_000;
  return `${(u - frac) / 10_000}.${frac < 10 ? '000' : frac < 100 ? '00' : frac < 1000 ? '0' : ''}${frac}`;
}

function metricsFor(metrics: string[], currency: string): (amount: string) => Record<string, { Amount: string; Unit: string }> {
  if (metrics.length === 1 && COST_METRICS.has(metrics[0]!)) {
    const name = metrics[0]!;
    return (amount) => ({ [name]: { Amount: amount, Unit: currency } });
  }
  return (amount) => Object.fromEntries(metrics.map((m) => [m, COST_METRICS.has(m) ? { Amount: amount, Unit: currency } : { Amount: '0', Unit: 'N/A' }]));
}

function ok(body: unknown): Response {
  return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId() }, body: JSON.stringify(body) };
}

function accountAttributes(dims: Dim[], account: string) {
  return dims.includes('LINKED_ACCOUNT') ? [{ Value: account, Attributes: { description: 'skyloft-emulator' } }] : [];
}

/** The services billed on every day, in spend's order (resource services, then account-level ones). */
function servicesOf(spend: Spend): string[] {
  const resource = spend.resources > 0 ? SERVICES.aws.resource.slice(0, spend.servicesPerResource) : [];
  return [...resource, ...SERVICES.aws.account];
}

function costAndUsage(r: CeRequest, account: string, spend: Spend): Response {
  const op = 'GetCostAndUsage';
  const c = common(r, op, ['SERVICE', 'LINKED_ACCOUNT']);
  const match = filterOf(r.Filter);
  const { first, end } = spend.clampRange(c.start, c.end);
  const periods = c.granularity === 'MONTHLY' ? months(first, end) : days(first, end);
  const services = servicesOf(spend).filter((s) => match(s, account));
  const serviceIndex = new Map(services.map((s, i) => [s, i]));
  // Group keys of one period: one per service, one for the account, or (no GroupBy) the period's Total alone.
  const bySvc = c.dims.includes('SERVICE');
  const perPeriod = services.length === 0 ? 0 : bySvc ? services.length : 1;
  const total = periods.length * perPeriod;
  const offset = offsetOf(op, r, total);
  let stop = Math.min(total, offset + ceLimits.groupsPerPage);
  let summed = 0;
  const metricsOf = metricsFor(c.metrics, spend.currencyOf('aws'));
  const perDay = spend.linesPerDay('aws');
  const results = [];
  for (let g = offset; g < stop;) {
    const p = Math.floor(g / perPeriod);
    const [ps, pe] = periods[p]!;
    const sums = new Array<number>(services.length).fill(0);
    for (let d = ps; d < pe; d++) {
      for (let n = 0; n < perDay; n++) {
        const line = spend.line('aws', d, n);
        const i = serviceIndex.get(line.service);
        if (i !== undefined) sums[i]! += units(line.amount);
      }
    }
    const upto = Math.min(stop, (p + 1) * perPeriod);
    const period = { TimePeriod: { Start: isoDay(ps), End: isoDay(pe) }, Estimated: pe >= c.today };
    if (c.dims.length === 0) {
      results.push({ ...period, Total: metricsOf(decimal(sums.reduce((a, b) => a + b, 0))), Groups: [] });
    } else {
      const groups = [];
      for (; g < upto; g++) {
        const k = g % perPeriod;
        const service = services[k]!;
        const amount = bySvc ? sums[k]! : sums.reduce((a, b) => a + b, 0);
        const keys = c.dims.map((dim) => (dim === 'SERVICE' ? service : account));
        groups.push({ Keys: keys, Metrics: metricsOf(decimal(amount)) });
      }
      results.push({ ...period, Total: {}, Groups: groups });
    }
    g = upto;
    summed += (pe - ps) * perDay;
    if (summed >= ceLimits.linesSummedPerPage && g < stop) stop = g;
  }
  return ok({
    GroupDefinitions: c.groupBy,
    ResultsByTime: results,
    DimensionValueAttributes: accountAttributes(c.dims, account),
    ...(stop < total && { NextPageToken: tokenOf(op, r, stop) }),
  });
}

function withResources(r: CeRequest, account: string, spend: Spend): Response {
  const op = 'GetCostAndUsageWithResources';
  if (r.Filter === undefined) throw new Invalid("1 validation error detected: Value null at 'filter' failed to satisfy constraint: Member must not be null");
  if (!spend.awsResourceLevel) {
    throw new Invalid(
      'Resource-level data is not enabled for this account. Opt in to daily resource-level data in the Cost Management preferences of the management account.',
      'AccessDeniedException',
    );
  }
  const c = common(r, op, ['RESOURCE_ID', 'SERVICE', 'LINKED_ACCOUNT']);
  if (c.granularity !== 'DAILY') throw new Invalid('Resource-level data is available at DAILY granularity only');
  if (!c.dims.includes('RESOURCE_ID') || !c.dims.includes('SERVICE')) {
    throw new Invalid('The emulator implements GetCostAndUsageWithResources grouped by RESOURCE_ID and SERVICE');
  }
  if (dayNumber(c.start) < c.today - ceLimits.resourceDays) {
    throw new Invalid(`Start date is too old for resource-level data: the maximum supported is ${ceLimits.resourceDays} days`);
  }
  const match = filterOf(r.Filter);
  const total = servicesOf(spend).some((s) => match(s, account)) ? spend.count('aws', c.start, c.end) : 0;
  const offset = offsetOf(op, r, total);
  const metricsOf = metricsFor(c.metrics, spend.currencyOf('aws'));
  const { lines, next } = total === 0 ? { lines: [] as SpendLine[], next: undefined } : spend.page('aws', c.start, c.end, offset, ceLimits.groupsPerPage);
  const results: Array<{ TimePeriod: { Start: string; End: string }; Total: object; Groups: unknown[]; Estimated: boolean }> = [];
  let current: (typeof results)[number] | undefined;
  for (const line of lines) {
    if (current?.TimePeriod.Start !== line.day) {
      const d = dayNumber(line.day);
      current = { TimePeriod: { Start: line.day, End: isoDay(d + 1) }, Total: {}, Groups: [], Estimated: d + 1 >= c.today };
      results.push(current);
    }
    if (!match(line.service, account)) continue;
    const resource = line.item?.id ?? NO_RESOURCE;
    const keys = c.dims.map((dim) => (dim === 'RESOURCE_ID' ? resource : dim === 'SERVICE' ? line.service : account));
    current.Groups.push({ Keys: keys, Metrics: metricsOf(line.amount) });
  }
  return ok({
    GroupDefinitions: c.groupBy,
    ResultsByTime: results,
    DimensionValueAttributes: accountAttributes(c.dims, account),
    ...(next !== undefined && { NextPageToken: tokenOf(op, r, next) }),
  });
}

function days(first: number, end: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let d = first; d < end; d++) out.push([d, d + 1]);
  return out;
}

function months(first: number, end: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let d = first; d < end;) {
    const date = new Date(d * DAY_MS);
    const next = Math.min(end, Math.floor(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) / DAY_MS));
    out.push([d, next]);
    d = next;
  }
  return out;
}

function positiveInt(value: string | undefined): number | undefined {
  const n = Number(value);
  return value && Number.isInteger(n) && n > 0 ? n : undefined;
}
