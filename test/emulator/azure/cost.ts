import { randomUUID } from 'node:crypto';
import type { Fault } from '../faults.ts';
import type { Request, Response } from '../http.ts';
import type { Resolved } from '../options.ts';
import { isoDay, type Spend } from '../spend.ts';
import { armError } from './identity.ts';
import { resourceGroup } from './resources.ts';

/**
 * Cost Management's Query API for one subscription, as `POST /subscriptions/{sub}/providers/Microsoft.CostManagement/
 * query?api-version=...` answers it: `{ id, name, type, properties: { nextLink, columns, rows } }`, one row per
 * (day, grouping values, currency), UsageDate a yyyymmdd number, Cost a JSON number. The next page is the same body
 * POSTed to `nextLink` (the request's own URL plus `$skiptoken`). The token encodes the offset into spend's lines and
 * the period it belongs to, so any page is generated from its token alone.
 *
 * Implemented: timeframe Custom, granularity Daily, Sum aggregations of Cost (or PreTaxCost), grouping by the
 * dimensions ServiceName and ResourceId (both, in either order: the columns follow the request's order). Anything
 * else is refused with Cost Management's 400 rather than answered wrongly. ResourceId is the lower-cased ARM id of
 * the billed VM, '' for account-level services (support). A principal in `spend.billingDenied` gets ARM's 403.
 */
export const COST_PATH = /^\/subscriptions\/([^/]+)\/providers\/Microsoft\.CostManagement\/query\/?$/i;
export const COST_OPERATION = 'query.usage';

const TYPES = new Set(['Usage', 'ActualCost', 'AmortizedCost']);
const COST_COLUMNS = new Set(['Cost', 'PreTaxCost']);
const DIMENSIONS = new Set(['ServiceName', 'ResourceId']);
const DAY_MS = 86_400_000;

interface Query {
  from: number;
  /** Exclusive day number (Azure's `to` is inclusive). */
  end: number;
  /** Column names in answer order, Cost first. */
  costColumn: string;
  grouping: string[];
}

export function costQuery(req: Request, subscriptionId: string, spend: Spend, a: Resolved['azure']): Response {
  if (req.method !== 'POST') {
    return armError(405, 'HttpMethodNotAllowed', `The requested resource does not support http method '${req.method}'.`);
  }
  if (!req.url.searchParams.get('api-version')) {
    return armError(400, 'MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is required for all requests.');
  }
  if (subscriptionId.toLowerCase() !== a.subscriptionId.toLowerCase()) {
    return armError(404, 'SubscriptionNotFound', `The subscription '${subscriptionId}' could not be found.`);
  }
  const principal = tokenClaims(req.headers.authorization);
  if (spend.billingDenied.has(principal.appid)) {
    return armError(403, 'AuthorizationFailed',
      `The client '${principal.appid}' with object id '${principal.oid}' does not have authorization to perform action 'Microsoft.CostManagement/query/read' over scope '/subscriptions/${a.subscriptionId}' or the scope is invalid. If access was recently granted, please refresh your credentials.`);
  }
  const parsed = parseQuery(req.body);
  if (typeof parsed === 'string') return badRequest(parsed);
  const q = parsed;

  let offset = 0;
  const skiptoken = req.url.searchParams.get('$skiptoken');
  if (skiptoken !== null) {
    const t = decodeToken(skiptoken);
    if (!t || t.from !== q.from || t.end !== q.end) return badRequest('The provided $skiptoken is invalid or does not belong to this query.');
    offset = t.offset;
  }

  const from = isoDay(q.from);
  const to = isoDay(q.end);
  const page = spend.page('azure', from, to, offset, a.costPageSize);
  const sub = `/subscriptions/${a.subscriptionId.toLowerCase()}/resourcegroups/`;
  const serviceFirst = q.grouping[0] === 'ServiceName';
  // Rows by hand: the amounts go out exactly as spend's decimal strings, with no float round trip or per-row stringify.
  // A resource's services are consecutive lines, and so are a day's: each id and date is built once per run of them.
  let rows = '';
  let dayOf = '';
  let usageDate = '';
  let itemId: string | undefined;
  let id = '""';
  const services = new Map<string, string>();
  for (let i = 0; i < page.lines.length; i++) {
    const l = page.lines[i]!;
    if (l.day !== dayOf) {
      dayOf = l.day;
      usageDate = l.day.slice(0, 4) + l.day.slice(5, 7) + l.day.slice(8, 10);
    }
    const it = l.item;
    if (it?.id !== itemId) {
      itemId = it?.id;
      id = it ? `"${sub}${resourceGroup(it.scope.region)}/providers/microsoft.compute/virtualmachines/${it.id.toLowerCase()}"` : '""';
    }
    let service = services.get(l.service);
    if (service === undefined) services.set(l.service, (service = JSON.stringify(l.service)));
    rows += `${i === 0 ? '' : ','}[${l.amount},${usageDate},${serviceFirst ? `${service},${id}` : `${id},${service}`},"${l.currency}"]`;
  }

  const name = randomUUID();
  const columns = [
    { name: q.costColumn, type: 'Number' },
    { name: 'UsageDate', type: 'Number' },
    ...q.grouping.map((g) => ({ name: g, type: 'String' })),
    { name: 'Currency', type: 'String' },
  ];
  const nextLink = page.next === undefined
    ? null
    : `${req.url.origin}${req.url.pathname}?api-version=${encodeURIComponent(req.url.searchParams.get('api-version')!)}&$skiptoken=${encodeToken(page.next, q.from, q.end)}`;
  const body = `{"id":"subscriptions/${a.subscriptionId}/providers/Microsoft.CostManagement/query/${name}","name":"${name}","type":"Microsoft.CostManagement/query","location":null,"sku":null,"eTag":null,`
    + `"properties":{"nextLink":${JSON.stringify(nextLink)},"columns":${JSON.stringify(columns)},"rows":[${rows}]}}`;
  return {
    status: 200,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'x-ms-request-id': name,
      'x-ms-ratelimit-microsoft.costmanagement-qpu-consumed': '1',
      'x-ms-ratelimit-microsoft.costmanagement-qpu-remaining': 'QueryQpu=399',
    },
    body,
  };
}

/** Cost Management's own 429: its retry-after headers per quota (QPU, entity, tenant) besides ARM's Retry-After. */
export function costFault(f: Fault): Response | undefined {
  if (f.kind !== 'throttle') return undefined;
  const seconds = String(f.retryAfterSeconds ?? 1);
  return armError(429, '429', `Too many requests. Please retry after ${seconds} seconds.`, {
    'retry-after': seconds,
    'x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after': seconds,
    'x-ms-ratelimit-microsoft.costmanagement-entity-retry-after': '0',
    'x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after': '0',
  });
}

function badRequest(what: string): Response {
  return armError(400, 'BadRequest', `Invalid query definition: ${what} (Request ID: ${randomUUID()})`);
}

/** The request body validated as Cost Management does, or what is wrong with it. */
function parseQuery(text: string): Query | string {
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    return 'The request body is not valid JSON.';
  }
  if (!body || typeof body !== 'object') return 'The request body must be a query definition object.';
  if (body.type === undefined) return 'Missing definition type.';
  if (!TYPES.has(body.type)) return `Invalid type '${body.type}'; expected one of Usage, ActualCost, AmortizedCost.`;
  if (body.timeframe === undefined) return 'Missing definition timeframe.';
  if (body.timeframe !== 'Custom') return `The emulator implements timeframe Custom only, not '${body.timeframe}'.`;
  const period = body.timePeriod;
  if (!period || typeof period.from !== 'string' || typeof period.to !== 'string') {
    return 'Missing definition timePeriod; specify a period with from and to when the timeframe is Custom.';
  }
  const fromMs = Date.parse(period.from);
  const toMs = Date.parse(period.to);
  if (Number.isNaN(fromMs) || Number.isNaN(toMs)) return `Invalid timePeriod: '${period.from}' to '${period.to}' are not ISO 8601 dates.`;
  const from = Math.floor(fromMs / DAY_MS);
  const last = Math.floor(toMs / DAY_MS);
  if (last < from) return 'The timePeriod from date must not be later than the to date.';
  // Up to one calendar year: the inclusive last day must come before the same date a year later.
  const yearLater = new Date(from * DAY_MS);
  yearLater.setUTCFullYear(yearLater.getUTCFullYear() + 1);
  if (last * DAY_MS >= yearLater.getTime()) return 'The time period for pulling the data cannot exceed 1 year(s).';

  const dataset = body.dataset;
  if (!dataset || typeof dataset !== 'object') return 'Missing definition dataset.';
  if (dataset.granularity !== 'Daily') return `The emulator implements granularity Daily only, not '${dataset.granularity}'.`;
  if (dataset.filter !== undefined && dataset.filter !== null) return 'The emulator implements no dataset filter.';
  const aggregations = Object.values(dataset.aggregation ?? {}) as Array<{ name?: unknown; function?: unknown }>;
  if (aggregations.length !== 1) return 'The emulator implements exactly one aggregation (a Sum of Cost).';
  const agg = aggregations[0]!;
  if (agg.function !== 'Sum') return `Invalid aggregation function '${String(agg.function)}'.`;
  if (!COST_COLUMNS.has(agg.name as string)) return `Invalid aggregation column '${String(agg.name)}'.`;
  const grouping = dataset.grouping;
  if (!Array.isArray(grouping)) return 'The emulator implements grouping by ServiceName and ResourceId only; the dataset has no grouping.';
  if (grouping.length > 2) return 'Grouping by more than 2 dimensions is not supported.';
  const names: string[] = [];
  for (const g of grouping) {
    if (g?.type !== 'Dimension' && g?.type !== 'TagKey') return `Invalid grouping type '${String(g?.type)}'.`;
    if (g.type !== 'Dimension' || !DIMENSIONS.has(g.name)) return `The emulator implements grouping by the dimensions ServiceName and ResourceId only, not '${String(g.name)}'.`;
    names.push(g.name);
  }
  if (new Set(names).size !== 2) return 'The emulator implements grouping by both ServiceName and ResourceId only.';
  return { from, end: last + 1, costColumn: agg.name as string, grouping: names };
}

/** The access token's claims (the emulator issues JWT-shaped tokens; identity.check has already verified it). */
function tokenClaims(authorization: string | undefined): { appid: string; oid: string } {
  const payload = /^Bearer [^.]+\.([^.]+)\./i.exec(authorization ?? '')?.[1];
  try {
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8'));
    return { appid: String(claims.appid ?? ''), oid: String(claims.oid ?? '') };
  } catch {
    return { appid: '', oid: '' };
  }
}

function encodeToken(offset: number, from: number, end: number): string {
  return Buffer.from(`${offset}:${from}:${end}`).toString('base64url');
}

function decodeToken(token: string): { offset: number; from: number; end: number } | undefined {
  const m = /^(\d+):(\d+):(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  return m ? { offset: Number(m[1]), from: Number(m[2]), end: Number(m[3]) } : undefined;
}
