import { randomUUID } from 'node:crypto';
import type { JWT } from 'google-auth-library';
import { UnprocessableError } from '../../shared/errors.ts';
import type { AdapterDeps, CloudInput } from '../toolbox.ts';
import { DEFAULT_TIMEOUT_MS, positive } from '../toolbox.ts';
import { CloudAuthError, CloudUnavailableError, type CostLine, type CostProgress, type CostRange, type CostReader } from '../ports.ts';
import { gcpAuthClient, type GcpSecretInput } from './clients.ts';
import { translateBigQueryError, type BigQueryContext } from './errors.ts';

/**
 * GCP cost from the Cloud Billing export to BigQuery. The credential's options name the export:
 * `billingDataset` ("dataset" in the credential's project, or "project.dataset") and `billingTable`.
 *
 * One query job per collection (BigQuery bills a query by the bytes it scans; result pages are free), grouped by
 * (usage day, service, resource, project, currency), so every line's key is unique. Its results are then read page by
 * page (jobs.getQueryResults with maxResults/pageToken, rows left unparsed by the SDK) and each page is yielded as it
 * arrives. Amounts are summed in BigQuery as NUMERIC (the export's cost is FLOAT64) and cast to STRING, so they arrive
 * as exact decimal strings.
 *
 * The detailed usage cost export (gcp_billing_export_resource_v1_*) carries resource.global_name; the standard one
 * (gcp_billing_export_v1_*) has no resource column, so its lines have no resource and a notice says so.
 *
 * Options: `costPageSize` (rows per result page, default 10,000), `billingLocation` (the dataset's location, only
 * needed to recover a job whose insert answer was lost in a region other than US/EU).
 *
 * The two REST calls (jobs.insert, jobs.getQueryResults) go through the service account's auth client, not the
 * @google-cloud/bigquery SDK: that SDK sends its requests through teeny-request, which takes no agent, so they could
 * not pass the outbound guard (src/shared/outbound.ts); the auth client's transporter does.
 */
const DEFAULT_API = 'https://bigquery.googleapis.com';
const DEFAULT_PAGE = 10_000;
const MAX_PAGE = 100_000;
const PROJECT = /^(?:[a-z][a-z0-9.-]{0,62}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const DATASET = /^[A-Za-z0-9_]{1,1024}$/;
const TABLE = /^[A-Za-z0-9_-]{1,1024}$/;
/** jobComplete false answers (each after the server's 10 s wait) before giving up. */
const MAX_WAITS = 90;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const GCE_INSTANCE = '//compute.googleapis.com/';

interface BillingTable {
  project: string;
  dataset: string;
  table: string;
  /** The standard export: no resource-level columns. */
  standard: boolean;
}

/** The export table from the credential's options, or an UnprocessableError saying what to set. */
export function billingTable(options: Record<string, unknown> | undefined, defaultProject: string): BillingTable {
  const ds = options?.billingDataset;
  const table = options?.billingTable;
  const help = 'Set the credential options billingDataset ("dataset" or "project.dataset") and billingTable (e.g. gcp_billing_export_resource_v1_XXXXXX_XXXXXX_XXXXXX) to the Cloud Billing export to BigQuery';
  if (typeof ds !== 'string' || !ds || typeof table !== 'string' || !table) {
    throw new UnprocessableError(`GCP cost needs the Cloud Billing BigQuery export. ${help}`);
  }
  const dot = ds.lastIndexOf('.');
  const project = dot >= 0 ? ds.slice(0, dot) : defaultProject;
  const dataset = dot >= 0 ? ds.slice(dot + 1) : ds;
  if (!PROJECT.test(project)) throw new UnprocessableError(`GCP billingDataset '${ds}': '${project}' is not a project id. ${help}`);
  if (!DATASET.test(dataset)) throw new UnprocessableError(`GCP billingDataset '${ds}': '${dataset}' is not a dataset name (letters, digits and underscores). ${help}`);
  if (!TABLE.test(table)) throw new UnprocessableError(`GCP billingTable '${table}' is not a table name (letters, digits, underscores and dashes). ${help}`);
  return { project, dataset, table, standard: table.startsWith('gcp_billing_export_v1_') };
}

/** The one query of a collection; the table reference is validated, the dates are parameters. */
export function costQuery(t: BillingTable): string {
  const resource = t.standard ? 'CAST(NULL AS STRING)' : 'resource.global_name';
  return [
    "SELECT FORMAT_DATE('%F', DATE(usage_start_time)) AS day, service.description AS service,",
    `${resource} AS resource, IFNULL(project.id, billing_account_id) AS project, currency,`,
    'CAST(SUM(CAST(cost AS NUMERIC)) + SUM(IFNULL((SELECT SUM(CAST(c.amount AS NUMERIC)) FROM UNNEST(credits) c), 0)) AS STRING) AS amount',
    `FROM \`${t.project}.${t.dataset}.${t.table}\``,
    'WHERE DATE(usage_start_time) >= @from AND DATE(usage_start_time) < @to',
    'GROUP BY 1, 2, 3, 4, 5',
  ].join(' ');
}

/** A Compute Engine instance's global name → its numeric id (inventory's externalId); other names as they are. */
export function resourceId(globalName: string | null | undefined): string | null {
  if (!globalName) return null;
  if (!globalName.startsWith(GCE_INSTANCE)) return globalName;
  const slash = globalName.lastIndexOf('/');
  if (globalName.lastIndexOf('/instances/', slash) !== slash - '/instances'.length) return globalName;
  const id = globalName.slice(slash + 1);
  if (id.length === 0) return globalName;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 48 || c > 57) return globalName;
  }
  return id;
}

interface RawRow {
  f: Array<{ v: string | null }>;
}

interface QueryResultsResponse {
  jobComplete?: boolean;
  pageToken?: string;
  schema?: { fields?: Array<{ name?: string }> };
  rows?: RawRow[];
}

const COLUMNS = ['day', 'service', 'resource', 'project', 'currency', 'amount'] as const;

interface JobResource {
  jobReference?: { location?: string };
  status?: { errors?: Array<{ reason?: string; message?: string }>; errorResult?: { message?: string } };
}

export function openGcpCost(input: CloudInput, secret: GcpSecretInput, deps: AdapterDeps): CostReader {
  const key = `${input.credentialId}:global:bigquery`;
  const pageSize = Math.min(MAX_PAGE, Math.floor(positive(input.options?.costPageSize) ?? DEFAULT_PAGE));
  const timeoutMs = positive(input.options?.timeoutMs) ?? DEFAULT_TIMEOUT_MS;
  const location = typeof input.options?.billingLocation === 'string' ? input.options.billingLocation : undefined;
  const base = `${(input.endpoints?.api ?? DEFAULT_API).replace(/\/+$/, '')}/bigquery/v2/projects/${encodeURIComponent(secret.projectId)}`;
  let client: Promise<{ bq: BigQueryHttp; email: string }> | undefined;

  const open = () => (client ??= (async () => {
    const authClient = await gcpAuthClient(secret, deps.agents);
    return { bq: bigQueryHttp(authClient, base, timeoutMs), email: authClient.email ?? '' };
  })().catch((err: unknown) => {
    client = undefined;
    throw new CloudAuthError(`The GCP service account JSON is not usable: ${(err as Error).message}`, err);
  }));

  return {
    async *collect(range: CostRange, progress: CostProgress, signal?: AbortSignal): AsyncGenerator<CostLine[]> {
      if (!DAY.test(range.from) || !DAY.test(range.to)) throw new UnprocessableError(`Cost range days must be YYYY-MM-DD, got ${range.from} to ${range.to}`);
      const table = billingTable(input.options, secret.projectId);
      const { bq, email } = await open();
      const ctx: BigQueryContext = { table: `${table.project}.${table.dataset}.${table.table}`, dataset: `${table.project}.${table.dataset}`, project: secret.projectId, email };
      const call = deps.caller(translateBigQueryError(ctx));
      if (table.standard) {
        progress.notice(`The GCP billing table ${ctx.table} is the standard usage cost export, which has no resource-level cost: no line names a resource. Enable the detailed usage cost export (Billing > Billing export > BigQuery export) and set billingTable to its gcp_billing_export_resource_v1_<BILLING_ACCOUNT_ID> table to attribute cost to instances.`);
      }

      // One job id for the collection: a retried insert whose first answer was lost finds its job (409) instead of
      // running, and paying for, the query twice.
      const jobId = `skyloft_cost_${randomUUID().replaceAll('-', '')}`;
      const date = (name: string, value: string) => ({ name, parameterType: { type: 'DATE' }, parameterValue: { value } });
      const insert = {
        jobReference: { projectId: secret.projectId, jobId, ...(location && { location }) },
        configuration: {
          query: { query: costQuery(table), useLegacySql: false, parameterMode: 'NAMED', queryParameters: [date('from', range.from), date('to', range.to)] },
          labels: { 'skyloft-purpose': 'cost' },
        },
      };
      const jobLocation = await call(key, async (s) => {
        try {
          const job = await bq<JobResource>('POST', '/jobs', { data: insert }, s);
          // A job refused at once answers 200 with its errors, as the SDK reported them.
          if (job.status?.errors?.length) throw Object.assign(new Error(job.status.errorResult?.message ?? job.status.errors[0]?.message ?? 'the query job failed'), { errors: job.status.errors });
          return job.jobReference?.location ?? location;
        } catch (err) {
          if ((err as { code?: unknown }).code === 409) return location;
          throw err;
        }
      }, signal);
      progress.paidRequest();

      // Result pages: one ahead, so the next page is on its way while the caller stores this one (at most two
      // pages held). A page the caller never asks for is dropped (and its failure with it).
      let waits = 0;
      // How long BigQuery may hold a page request waiting for the job: well within our own per-attempt timeout.
      const serverWaitMs = Math.max(500, Math.min(10_000, timeoutMs - 2_000));
      const fetchPage = async (pageToken: string | undefined): Promise<QueryResultsResponse> => {
        for (;;) {
          const params = { maxResults: pageSize, timeoutMs: serverWaitMs, prettyPrint: false, ...(jobLocation && { location: jobLocation }), ...(pageToken && { pageToken }) };
          const response = await call(key, (s) => bq<QueryResultsResponse>('GET', `/queries/${encodeURIComponent(jobId)}`, { params }, s), signal);
          // Not done yet: the server waited serverWaitMs; ask again for the same page.
          if (response.jobComplete !== false) return response;
          if (++waits > MAX_WAITS) throw new CloudUnavailableError(`The BigQuery cost query ${jobId} did not finish within ${MAX_WAITS} polls`);
        }
      };
      let next: Promise<QueryResultsResponse> | undefined = fetchPage(undefined);
      while (next) {
        const response: QueryResultsResponse = await next;
        next = response.pageToken ? fetchPage(response.pageToken) : undefined;
        next?.catch(() => {});
        const lines = toLines(response.rows ?? [], response.schema?.fields);
        if (lines.length > 0) yield lines;
      }
    },
  };
}

type BigQueryHttp = <T>(method: 'GET' | 'POST', path: string, opts: { params?: Record<string, unknown>; data?: unknown }, signal?: AbortSignal) => Promise<T>;

/**
 * One BigQuery REST call through the auth client (its transporter carries the outbound guard's agents), answered
 * parsed; an error answer comes back in the shape of @google-cloud/common's ApiError (code, errors, message,
 * response) for translateBigQueryError. No retries here: throttling goes to the budget, transient errors to
 * src/clouds/toolbox.ts.
 */
function bigQueryHttp(auth: JWT, base: string, timeoutMs: number): BigQueryHttp {
  return async <T>(method: 'GET' | 'POST', path: string, opts: { params?: Record<string, unknown>; data?: unknown }, signal?: AbortSignal) => {
    const res = await auth.request<T & { error?: { code?: number; message?: string; errors?: unknown[] } }>({
      url: `${base}${path}`,
      method,
      ...opts,
      signal,
      timeout: timeoutMs,
      retry: false,
      responseType: 'json',
      validateStatus: () => true,
      // Google compresses an answer only for a client that names gzip in its User-Agent and Accept-Encoding.
      headers: { 'User-Agent': 'skyloft (gzip)', 'Accept-Encoding': 'gzip' },
    });
    const body = typeof res.data === 'object' && res.data !== null ? res.data : undefined;
    if (res.status >= 200 && res.status < 300 && body && !body.error) return body;
    const e = body?.error;
    throw Object.assign(new Error(e?.message || `HTTP ${res.status}`), {
      code: e?.code ?? res.status,
      errors: e?.errors ?? [],
      response: { statusCode: res.status, headers: { 'retry-after': res.headers.get('retry-after') ?? undefined } },
    });
  };
}

function toLines(rows: RawRow[], fields: Array<{ name?: string }> | undefined): CostLine[] {
  if (rows.length === 0) return [];
  const at = COLUMNS.map((name) => {
    const i = fields?.findIndex((f) => f.name === name) ?? -1;
    if (i < 0) throw new UnprocessableError(`BigQuery answered the cost query without a '${name}' column`);
    return i;
  });
  const [day, service, resource, project, currency, amount] = at as [number, number, number, number, number, number];
  const lines = new Array<CostLine>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const f = rows[i]!.f;
    lines[i] = {
      date: f[day]!.v ?? '',
      service: f[service]!.v ?? '',
      resourceId: resourceId(f[resource]!.v),
      billingAccount: f[project]!.v ?? '',
      currency: f[currency]!.v ?? '',
      amount: f[amount]!.v ?? '0',
    };
  }
  return lines;
}
