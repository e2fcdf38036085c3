import type { HttpClient, Pipeline } from '@azure/core-rest-pipeline';
import type { ClientSecretCredential } from '@azure/identity';
import type { AdapterDeps, CloudCall, CloudInput } from '../toolbox.ts';
import type { CostLine, CostProgress, CostRange, CostReader } from '../ports.ts';
import { costErrorTranslator } from './errors.ts';
import { guardPolicy } from './guard.ts';

/**
 * Azure cost through Cost Management's Query API (POST {arm}/subscriptions/{id}/providers/Microsoft.CostManagement/
 * query): actual cost per day, grouped by ServiceName and ResourceId, every page followed by POSTing the same body to
 * `properties.nextLink` until it is null. @azure/arm-costmanagement has no pager for this operation (nextLink needs the
 * body again), so the request goes through @azure/core-rest-pipeline with the inventory's credential; the pipeline's
 * own retry policy is removed, so every 429 reaches the shared budget.
 *
 * The Query API's `to` is inclusive and a period may not exceed one year: a CostRange (`to` exclusive) becomes
 * windows of at most 365 days, each from 'T00:00:00Z' of its first day to 'T23:59:59Z' of its last. Columns are
 * read by name from `columns`. Azure charges nothing per query, so `progress.paidRequest` is never called.
 */
export const COST_API_VERSION = '2023-11-01';
const DEFAULT_ARM = 'https://management.azure.com';
const WINDOW_DAYS = 365;
const DAY_MS = 86_400_000;

interface Column {
  name: string;
  type?: string;
}

interface QueryPage {
  nextLink: string | null;
  columns: Column[];
  rows: unknown[][];
}

interface Http {
  pipeline: Pipeline;
  client: HttpClient;
  createPipelineRequest: typeof import('@azure/core-rest-pipeline').createPipelineRequest;
  createHttpHeaders: typeof import('@azure/core-rest-pipeline').createHttpHeaders;
  RestError: typeof import('@azure/core-rest-pipeline').RestError;
}

export function azureCost(
  input: CloudInput,
  secret: { clientId: string; subscriptionId: string },
  credential: () => Promise<ClientSecretCredential>,
  deps: AdapterDeps,
): CostReader {
  const call: CloudCall = deps.caller(costErrorTranslator(secret.clientId, secret.subscriptionId));
  const key = `${input.credentialId}:global:costmanagement`;
  const arm = new URL(input.endpoints?.api ?? DEFAULT_ARM).origin;
  const queryUrl = `${arm}/subscriptions/${encodeURIComponent(secret.subscriptionId)}/providers/Microsoft.CostManagement/query?api-version=${COST_API_VERSION}`;
  let http: Promise<Http> | undefined;
  const open = () => (http ??= createHttp(credential, arm, deps.agents));

  return {
    // progress.paidRequest is for clouds that charge per request; Cost Management queries are free.
    async *collect(range: CostRange, _progress: CostProgress, signal?: AbortSignal): AsyncGenerator<CostLine[]> {
      const windows = windowsOf(range);
      if (windows.length === 0) return;
      const h = await open();
      // One page is fetched ahead while the caller stores the previous one; leaving the loop early aborts it.
      const stop = new AbortController();
      const combined = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
      const fetchPage = (url: string, body: string): Promise<QueryPage> => {
        const page = call(key, (s) => post(h, url, body, s), combined);
        page.catch(() => undefined); // awaited below; a prefetch abandoned by an early exit must not go unhandled
        return page;
      };
      try {
        for (const w of windows) {
          const body = JSON.stringify(queryBody(w.from, w.last));
          let pending: Promise<QueryPage> | undefined = fetchPage(queryUrl, body);
          while (pending) {
            const page: QueryPage = await pending;
            pending = page.nextLink ? fetchPage(checkedNextLink(page.nextLink, arm), body) : undefined;
            const lines = toLines(page, secret.subscriptionId);
            if (lines.length > 0) yield lines;
          }
        }
      } finally {
        stop.abort();
      }
    },
  };
}

/** [from, to) as inclusive windows of at most WINDOW_DAYS days, YYYY-MM-DD. */
export function windowsOf(range: CostRange): Array<{ from: string; last: string }> {
  const first = dayNumber(range.from);
  const end = dayNumber(range.to);
  const out: Array<{ from: string; last: string }> = [];
  for (let d = first; d < end; d += WINDOW_DAYS) out.push({ from: isoDay(d), last: isoDay(Math.min(d + WINDOW_DAYS, end) - 1) });
  return out;
}

function queryBody(from: string, last: string): object {
  return {
    type: 'ActualCost',
    timeframe: 'Custom',
    timePeriod: { from: `${from}T00:00:00Z`, to: `${last}T23:59:59Z` },
    dataset: {
      granularity: 'Daily',
      aggregation: { totalCost: { name: 'Cost', function: 'Sum' } },
      grouping: [
        { type: 'Dimension', name: 'ServiceName' },
        { type: 'Dimension', name: 'ResourceId' },
      ],
    },
  };
}

/** The bearer token goes only to the Resource Manager origin the credential was configured for. */
function checkedNextLink(nextLink: string, arm: string): string {
  if (new URL(nextLink).origin !== arm) throw new Error(`Cost Management answered a nextLink outside ${arm}: ${nextLink}`);
  return nextLink;
}

async function post(h: Http, url: string, body: string, signal: AbortSignal): Promise<QueryPage> {
  const request = h.createPipelineRequest({
    url,
    method: 'POST',
    headers: h.createHttpHeaders({ 'content-type': 'application/json', accept: 'application/json' }),
    body,
    abortSignal: signal,
  });
  const response = await h.pipeline.sendRequest(h.client, request);
  // 204: "Resource is not available", no cost data for the scope.
  if (response.status === 204) return { nextLink: null, columns: [], rows: [] };
  const text = response.bodyAsText ?? '';
  let parsed: any;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (response.status !== 200) {
    const error = parsed?.error as { code?: string; message?: string } | undefined;
    const err = new h.RestError(error?.message ?? `Cost Management answered HTTP ${response.status}`, {
      code: error?.code,
      statusCode: response.status,
      request,
      response,
    });
    err.details = parsed;
    throw err;
  }
  const props = parsed?.properties;
  if (!props || !Array.isArray(props.columns) || !Array.isArray(props.rows)) {
    throw new Error(`Cost Management answered HTTP 200 without properties.columns/rows: ${text.slice(0, 200)}`);
  }
  return { nextLink: props.nextLink || null, columns: props.columns, rows: props.rows };
}

/** One page's rows as lines, columns found by name (their order is not guaranteed). */
export function toLines(page: QueryPage, subscriptionId: string): CostLine[] {
  if (page.rows.length === 0) return [];
  const index = new Map(page.columns.map((c, i) => [c.name.toLowerCase(), i]));
  const at = (...names: string[]) => {
    for (const n of names) {
      const i = index.get(n.toLowerCase());
      if (i !== undefined) return i;
    }
    throw new Error(`Cost Management answered without a ${names[0]} column (columns: ${page.columns.map((c) => c.name).join(', ')})`);
  };
  const cost = at('Cost', 'PreTaxCost', 'totalCost');
  const date = at('UsageDate');
  const service = at('ServiceName');
  const resource = at('ResourceId');
  const currency = at('Currency');
  const lines: CostLine[] = new Array(page.rows.length);
  let lastDate: unknown;
  let day = '';
  for (let i = 0; i < page.rows.length; i++) {
    const row = page.rows[i]!;
    if (row[date] !== lastDate) {
      lastDate = row[date];
      day = usageDay(lastDate);
    }
    const id = row[resource];
    lines[i] = {
      date: day,
      service: String(row[service] ?? ''),
      resourceId: typeof id === 'string' && id !== '' ? id.toLowerCase() : null,
      billingAccount: subscriptionId,
      currency: String(row[currency] ?? ''),
      amount: decimal(row[cost]),
    };
  }
  return lines;
}

/** UsageDate is a yyyymmdd number for Daily granularity. */
function usageDay(value: unknown): string {
  const s = String(value);
  if (/^\d{8}$/.test(s)) return `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}`;
  if (/^\d{4}-\d{2}-\d{2}/.test(s)) return s.slice(0, 10);
  throw new Error(`Cost Management answered an unexpected UsageDate '${s}'`);
}

/** A JSON number as a plain decimal string: its shortest round-trip digits, never exponent notation. */
export function decimal(value: unknown): string {
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)) return value;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`Cost Management answered a non-numeric cost '${String(value)}'`);
  const s = String(value);
  return s.includes('e') ? expandExponent(s) : s;
}

function expandExponent(s: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) throw new Error(`Not a number in exponent notation: '${s}'`);
  const [, sign, int, frac = '', exp] = m;
  const digits = int! + frac;
  const point = int!.length + Number(exp);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

function dayNumber(day: string): number {
  const ms = Date.parse(`${day}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(ms)) throw new Error(`Not a day (YYYY-MM-DD): '${day}'`);
  return ms / DAY_MS;
}

const isoDay = (n: number) => new Date(n * DAY_MS).toISOString().slice(0, 10);

async function createHttp(credential: () => Promise<ClientSecretCredential>, arm: string, agents: AdapterDeps['agents']): Promise<Http> {
  const [p, cred] = await Promise.all([import('@azure/core-rest-pipeline'), credential()]);
  const pipeline = p.createPipelineFromOptions({ retryOptions: { maxRetries: 0 }, redirectOptions: { maxRetries: 0 } });
  // Every request through the outbound guard's agents (after the proxy policy, as the ARM clients do).
  pipeline.addPolicy(guardPolicy(agents), { afterPhase: 'Sign' });
  // Throttling and 5xx go to the shared budget and the caller's retries, never retried inside the pipeline.
  pipeline.removePolicy({ phase: 'Retry' });
  // Sovereign clouds take tokens for their own Resource Manager audience, which is the endpoint's origin.
  pipeline.addPolicy(p.bearerTokenAuthenticationPolicy({ credential: cred, scopes: `${arm}/.default` }), { phase: 'Sign' });
  return {
    pipeline,
    client: p.createDefaultHttpClient(),
    createPipelineRequest: p.createPipelineRequest,
    createHttpHeaders: p.createHttpHeaders,
    RestError: p.RestError,
  };
}
