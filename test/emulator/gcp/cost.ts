import { randomBytes } from 'node:crypto';
import type { Fault, Faults } from '../faults.ts';
import { json, type Request, type Response } from '../http.ts';
import type { Resolved } from '../options.ts';
import { SERVICES, isoDay, type Spend, type SpendLine } from '../spend.ts';
import type { GcpOAuth } from './oauth.ts';
import { numericId } from './resources.ts';

/**
 * BigQuery v2 REST, just enough for the Cloud Billing export to BigQuery: jobs.insert (POST
 * /bigquery/v2/projects/{p}/jobs), jobs.query (POST .../queries), jobs.getQueryResults (GET .../queries/{jobId}) and
 * jobs.get (GET .../jobs/{jobId}), on the GCP origin.
 *
 * It does not parse SQL. A query must name the one billing export table the emulator has (`opts.gcp.billingDataset` /
 * `billingTable`, in the job's project unless the reference says otherwise), be standard SQL and pass @from and @to
 * as named DATE parameters; it then answers the rows of `GROUP BY day, service, resource, project, currency` over
 * spend's gcp lines of [from, to) with the columns day, service, resource, project, currency, amount (all STRING).
 *
 * The detailed export (`gcp_billing_export_resource_v1_*`) has one row per spend line, resource = the
 * resource.global_name of the billed VM. The standard export (`gcp_billing_export_v1_*`) has no `resource` column:
 * a query naming `resource.` fails with BigQuery's invalidQuery, and rows are per (day, service), summed over
 * resources. A job keeps only its parameters; every page is generated from its pageToken (an offset) alone.
 */
const ROUTE = /^\/bigquery\/v2\/projects\/([^/]+)\/(jobs|queries)(?:\/([^/]+))?\/?$/;
const LOCATION = 'US';
const MAX_PAGE = 50_000;
const MAX_JOBS = 10_000;
const FIELDS = ['day', 'service', 'resource', 'project', 'currency', 'amount'].map((name) => ({ name, type: 'STRING', mode: 'NULLABLE' }));
const THROTTLE_REASONS_MESSAGE = 'Exceeded rate limits: too many api requests per user per method for this user_method. For more information, see https://cloud.google.com/bigquery/docs/troubleshoot-quotas';

interface Job {
  id: string;
  project: string;
  from: string;
  to: string;
  standard: boolean;
  query: string;
  email: string;
  created: number;
}

interface QueryConfig {
  query?: string;
  useLegacySql?: boolean;
  parameterMode?: string;
  queryParameters?: Array<{ name?: string; parameterType?: { type?: string }; parameterValue?: { value?: string } }>;
}

export function isBigQuery(path: string): boolean {
  return path.startsWith('/bigquery/v2/');
}

export function bigQueryHandler(spend: Spend, faults: Faults, oauth: GcpOAuth, opts: Resolved): (req: Request) => Promise<Response> {
  const g = opts.gcp;
  const jobs = new Map<string, Job>();
  const standardTable = g.billingTable.startsWith('gcp_billing_export_v1_');

  return async (req) => {
    const path = req.url.pathname;
    const route = ROUTE.exec(path);
    const [, project, collection, jobId] = route ?? [];
    const operation = !route ? 'bigquery.unknown'
      : collection === 'jobs' ? (jobId ? 'jobs.get' : 'jobs.insert')
      : jobId ? 'jobs.getQueryResults' : 'jobs.query';
    const fault = await faults.enter('gcp', operation);
    if (fault) return faultResponse(fault);

    const auth = oauth.check(req.headers.authorization);
    if (!auth.ok) return bqError(401, 'UNAUTHENTICATED', 'unauthorized', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.');
    const expected = (operation === 'jobs.insert' || operation === 'jobs.query') ? 'POST' : 'GET';
    if (!route || req.method !== expected) return bqError(404, 'NOT_FOUND', 'notFound', `The emulator has no BigQuery route for ${req.method} ${path}`);
    if (project !== g.projectId) return bqError(404, 'NOT_FOUND', 'notFound', `Not found: Project ${project}`);
    const tableRef = `${g.projectId}:${g.billingDataset}.${g.billingTable}`;
    if (spend.billingDenied.has(auth.email)) {
      return bqError(403, 'PERMISSION_DENIED', 'accessDenied', `Access Denied: Table ${tableRef}: User does not have permission to query table ${tableRef}, or perhaps it does not exist.`);
    }

    if (operation === 'jobs.insert' || operation === 'jobs.query') {
      let body: { jobReference?: { jobId?: string; location?: string }; configuration?: { query?: QueryConfig } } & QueryConfig & { maxResults?: number };
      try {
        body = JSON.parse(req.body || '{}');
      } catch {
        return bqError(400, 'INVALID_ARGUMENT', 'parseError', 'Parse error');
      }
      const config = operation === 'jobs.insert' ? body.configuration?.query : body;
      if (!config?.query) return bqError(400, 'INVALID_ARGUMENT', 'invalid', 'Query text or Job ID must be specified.');
      const planned = plan(config);
      if ('error' in planned) return planned.error;
      const id = (operation === 'jobs.insert' ? body.jobReference?.jobId : undefined) ?? `job_${randomBytes(18).toString('base64url')}`;
      if (!/^[A-Za-z0-9_-]{1,1024}$/.test(id)) return bqError(400, 'INVALID_ARGUMENT', 'invalid', `Invalid job ID "${id}". Job IDs must be alphanumeric (plus underscores and dashes) and must be at most 1024 characters long.`);
      if (jobs.has(id)) return bqError(409, 'ALREADY_EXISTS', 'duplicate', `Already Exists: Job ${project}:${LOCATION}.${id}`);
      const job: Job = { id, project, ...planned, query: config.query, email: auth.email, created: Date.now() };
      jobs.set(id, job);
      if (jobs.size > MAX_JOBS) jobs.delete(jobs.keys().next().value!);
      if (operation === 'jobs.insert') return json(200, jobResource(job, config));
      return results(job, body.maxResults, undefined, 'bigquery#queryResponse');
    }

    const job = jobs.get(jobId!);
    const location = req.url.searchParams.get('location');
    if (!job || job.project !== project || (location && location.toUpperCase() !== LOCATION)) {
      return bqError(404, 'NOT_FOUND', 'notFound', `Not found: Job ${project}:${location ?? LOCATION}.${jobId}`);
    }
    if (operation === 'jobs.get') return json(200, jobResource(job));
    const q = req.url.searchParams;
    const maxResults = q.has('maxResults') ? Number(q.get('maxResults')) : undefined;
    if (maxResults !== undefined && (!Number.isInteger(maxResults) || maxResults < 0)) {
      return bqError(400, 'INVALID_ARGUMENT', 'invalid', `Invalid value at 'max_results' (type.googleapis.com/google.protobuf.UInt32Value), "${q.get('maxResults')}"`);
    }
    let offset = 0;
    const token = q.get('pageToken');
    if (token) {
      const decoded = /^o(\d{1,15})$/.exec(Buffer.from(token, 'base64url').toString('latin1'));
      if (!decoded) return bqError(400, 'INVALID_ARGUMENT', 'invalid', `Invalid page token: ${token}`);
      offset = Number(decoded[1]);
    } else if (q.has('startIndex')) {
      offset = Number(q.get('startIndex'));
    }
    return results(job, maxResults, offset, 'bigquery#getQueryResultsResponse');
  };

  /** The query's dates, or BigQuery's answer to what is wrong with it. */
  function plan(config: QueryConfig): { from: string; to: string; standard: boolean } | { error: Response } {
    const sql = config.query!;
    if (config.useLegacySql !== false) {
      return { error: invalidQuery('Query parameters cannot be used in legacy SQL queries.') };
    }
    const ref = /\bFROM\s+`([^`]+)`/i.exec(sql)?.[1];
    if (!ref) return { error: invalidQuery('Syntax error: the emulator expects FROM `project.dataset.table` at [1:1]') };
    const parts = ref.split('.');
    const [p, d, t] = parts.length === 3 ? parts : [g.projectId, ...parts];
    if (p !== g.projectId || d !== g.billingDataset) {
      return { error: bqError(404, 'NOT_FOUND', 'notFound', `Not found: Dataset ${p}:${d} was not found in location ${LOCATION}`) };
    }
    if (t !== g.billingTable) return { error: bqError(404, 'NOT_FOUND', 'notFound', `Not found: Table ${p}:${d}.${t} was not found in location ${LOCATION}`) };
    if (standardTable) {
      const at = sql.indexOf('resource.');
      if (at >= 0) return { error: invalidQuery(`Unrecognized name: resource at [1:${at + 1}]`) };
    }
    const dates: Record<string, string> = {};
    for (const name of ['from', 'to']) {
      if (!sql.includes(`@${name}`)) continue;
      const param = config.queryParameters?.find((x) => x.name === name);
      if (!param || (config.parameterMode ?? '').toUpperCase() !== 'NAMED') return { error: invalidQuery(`Query parameter '${name}' not found at [1:${sql.indexOf(`@${name}`) + 1}]`) };
      const type = param.parameterType?.type;
      const value = param.parameterValue?.value ?? '';
      if (type !== 'DATE') return { error: invalidQuery(`No matching signature for operator >= for argument types: DATE, ${type ?? 'STRING'}`) };
      if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) return { error: bqError(400, 'INVALID_ARGUMENT', 'invalid', `Invalid date string: ${value}`) };
      dates[name] = value;
    }
    if (!dates.from || !dates.to) return { error: invalidQuery('The emulator answers only queries bounded by @from and @to (DATE parameters)') };
    return { from: dates.from, to: dates.to, standard: standardTable };
  }

  function linesPerDay(job: Job): number {
    return job.standard ? spend.servicesPerResource + SERVICES.gcp.account.length : spend.linesPerDay('gcp');
  }

  function count(job: Job): number {
    const { first, end } = spend.clampRange(job.from, job.to);
    return (end - first) * linesPerDay(job);
  }

  function results(job: Job, maxResults: number | undefined, offset = 0, kind: string): Response {
    const total = count(job);
    const limit = Math.min(maxResults || MAX_PAGE, MAX_PAGE);
    const rows: object[] = [];
    if (job.standard) {
      const { first } = spend.clampRange(job.from, job.to);
      const perDay = linesPerDay(job);
      for (let n = offset; n < total && rows.length < limit; n++) rows.push(standardRow(job, first + Math.floor(n / perDay), n % perDay));
    } else {
      for (const line of spend.page('gcp', job.from, job.to, offset, limit).lines) rows.push(row(line, job.project));
    }
    const next = offset + rows.length;
    return json(200, {
      kind,
      etag: `"${randomBytes(12).toString('base64')}"`,
      schema: { fields: FIELDS },
      jobReference: { projectId: job.project, jobId: job.id, location: LOCATION },
      totalRows: String(total),
      ...(next < total ? { pageToken: Buffer.from(`o${next}`, 'latin1').toString('base64url') } : {}),
      ...(rows.length > 0 ? { rows } : {}),
      totalBytesProcessed: String(total * 180),
      jobComplete: true,
      cacheHit: false,
    });
  }

  /** A detailed-export row: one spend line. */
  function row(line: SpendLine, project: string): object {
    const it = line.item;
    const resource = it ? `//compute.googleapis.com/projects/${project}/zones/${it.zone}/instances/${numericId(it.scope, it.index)}` : null;
    return { f: [{ v: line.day }, { v: line.service }, { v: resource }, { v: project }, { v: line.currency }, { v: line.amount }] };
  }

  /** A standard-export row: the n-th (day, service) of a day, summed over the billed resources. */
  function standardRow(job: Job, day: number, n: number): object {
    const sps = spend.servicesPerResource;
    if (n >= sps) {
      const line = spend.line('gcp', day, spend.resources * sps + (n - sps));
      return { f: [{ v: line.day }, { v: line.service }, { v: null }, { v: job.project }, { v: line.currency }, { v: line.amount }] };
    }
    let sum = 0n;
    for (let r = 0; r < spend.resources; r++) sum += BigInt(spend.line('gcp', day, r * sps + n).amount.replace('.', ''));
    const digits = sum.toString().padStart(5, '0');
    const amount = `${digits.slice(0, -4)}.${digits.slice(-4)}`;
    return { f: [{ v: isoDay(day) }, { v: SERVICES.gcp.resource[n]! }, { v: null }, { v: job.project }, { v: spend.currencyOf('gcp') }, { v: amount }] };
  }

  function jobResource(job: Job, config?: QueryConfig): object {
    const created = String(job.created);
    return {
      kind: 'bigquery#job',
      etag: `"${randomBytes(12).toString('base64')}"`,
      id: `${job.project}:${LOCATION}.${job.id}`,
      selfLink: `https://bigquery.googleapis.com/bigquery/v2/projects/${job.project}/jobs/${job.id}?location=${LOCATION}`,
      user_email: job.email,
      configuration: { query: { ...(config ?? { query: job.query, useLegacySql: false }), destinationTable: { projectId: job.project, datasetId: '_emulator_anon', tableId: `anon_${job.id}` }, writeDisposition: 'WRITE_TRUNCATE', priority: 'INTERACTIVE' }, jobType: 'QUERY' },
      jobReference: { projectId: job.project, jobId: job.id, location: LOCATION },
      statistics: {
        creationTime: created, startTime: created, endTime: created,
        totalBytesProcessed: String(count(job) * 180),
        query: { totalBytesProcessed: String(count(job) * 180), totalBytesBilled: String(Math.max(10_485_760, count(job) * 180)), cacheHit: false, statementType: 'SELECT' },
      },
      status: { state: 'DONE' },
      principal_subject: `serviceAccount:${job.email}`,
      jobCreationReason: { code: 'REQUESTED' },
    };
  }
}

/** BigQuery's error body: `{ error: { code, message, errors: [{ message, domain, reason }], status } }`. */
export function bqError(code: number, status: string, reason: string, message: string, domain = 'global'): Response {
  return json(code, { error: { code, message, errors: [{ message, domain, reason }], status } });
}

function invalidQuery(message: string): Response {
  return json(400, { error: { code: 400, message, errors: [{ message, domain: 'global', reason: 'invalidQuery', location: 'q', locationType: 'parameter' }], status: 'INVALID_ARGUMENT' } });
}

function faultResponse(f: Fault): Response {
  // BigQuery answers rate limits with 403 rateLimitExceeded (not 429), so a client must read the reason.
  if (f.kind === 'throttle') return bqError(403, 'PERMISSION_DENIED', 'rateLimitExceeded', THROTTLE_REASONS_MESSAGE, 'usageLimits');
  if (f.kind === 'auth') return bqError(401, 'UNAUTHENTICATED', 'unauthorized', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.');
  const status = f.status ?? 500;
  return status === 503
    ? bqError(503, 'UNAVAILABLE', 'backendError', 'Error encountered during execution. Retrying may solve the problem.')
    : bqError(status, 'INTERNAL', 'backendError', 'Error encountered during execution. Retrying may solve the problem.');
}

