import { retryAfterMs, withHint } from '../toolbox.ts';
import { UnprocessableError } from '../../shared/errors.ts';
import { CloudAuthError, CloudThrottledError, CloudUnavailableError } from '../ports.ts';

/**
 * @google-cloud/compute (google-gax over REST) errors into the ports' errors. A GoogleError carries the gRPC code the
 * HTTP answer was mapped to (`code`), the HTTP status itself (`httpStatusCode`) and, from the google.rpc.ErrorInfo
 * detail, a `reason` such as RATE_LIMIT_EXCEEDED. Older Google APIs answer rate limits with 403, so the reason is
 * checked before the status.
 */
const RESOURCE_EXHAUSTED = 8;
const PERMISSION_DENIED = 7;
const UNAUTHENTICATED = 16;
const NOT_FOUND = 5;

const THROTTLE_REASONS = new Set(['RATE_LIMIT_EXCEEDED', 'rateLimitExceeded', 'userRateLimitExceeded', 'RESOURCE_EXHAUSTED', 'quotaExceeded']);

interface GaxLikeError {
  name?: string;
  message?: string;
  code?: number | string;
  httpStatusCode?: number;
  reason?: string;
  errors?: Array<{ reason?: string }>;
}

export function translateGcpError(err: unknown): Error {
  const e = (err ?? {}) as GaxLikeError;
  const code = typeof e.code === 'number' ? e.code : undefined;
  const status = e.httpStatusCode;
  const reasons = [e.reason, ...(e.errors ?? []).map((x) => x.reason)].filter((r): r is string => !!r);
  const what = `GCP ${e.reason ?? (code !== undefined ? `code ${code}` : (e.name ?? 'error'))}${status ? ` (HTTP ${status})` : ''}: ${firstLine(e.message ?? String(err))}`;
  if (code === RESOURCE_EXHAUSTED || status === 429 || reasons.some((r) => THROTTLE_REASONS.has(r))) {
    return new CloudThrottledError(what, undefined, err);
  }
  if (code === UNAUTHENTICATED || code === PERMISSION_DENIED || status === 401 || status === 403 || e.code === 'invalid_grant') {
    return new CloudAuthError(withHint(what, 'Check the service account key (not deleted or disabled) and its roles on the project'), err);
  }
  // Compute lists are project-scoped: NOT_FOUND means the project id is wrong, which no retry fixes.
  if (code === NOT_FOUND) return new CloudAuthError(withHint(what, "Check the credential's projectId"), err);
  return new CloudUnavailableError(what, err);
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.slice(0, 500);
}

/**
 * BigQuery errors (as cost.ts raises them, in the shape of @google-cloud/common's ApiError) into the ports' errors. Its `code` is the HTTP
 * status (not a gRPC code) and `errors[].reason` BigQuery's reason; BigQuery answers rate limits with 403
 * rateLimitExceeded, so the reason is checked before the status. A failed job (the insert answered 200 with
 * status.errors) comes as an ApiError with reasons but no code.
 */
export interface BigQueryContext {
  /** `project.dataset.table` of the billing export. */
  table: string;
  /** The project the query jobs run in (the credential's). */
  project: string;
  /** `project.dataset` of the billing export. */
  dataset: string;
  /** The service account, for the grant commands. */
  email?: string;
}

const BQ_THROTTLE_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded', 'quotaExceeded', 'backendRateLimitExceeded', 'jobRateLimitExceeded']);
const BQ_AUTH_REASONS = new Set(['accessDenied', 'unauthorized', 'authError', 'forbidden', 'billingNotEnabled']);

interface ApiLikeError {
  message?: string;
  code?: number | string;
  errors?: Array<{ reason?: string; message?: string }>;
  response?: { headers?: Record<string, string | string[] | undefined>; statusCode?: number };
}

export function translateBigQueryError(ctx: BigQueryContext): (err: unknown) => Error {
  return (err) => {
    const e = (err ?? {}) as ApiLikeError;
    const status = typeof e.code === 'number' ? e.code : e.response?.statusCode;
    const reasons = (e.errors ?? []).map((x) => x.reason).filter((r): r is string => !!r);
    const message = firstLine(e.message || e.errors?.[0]?.message || String(err));
    const what = `GCP BigQuery ${reasons[0] ?? 'error'}${status ? ` (HTTP ${status})` : ''}: ${message}`;
    if (status === 429 || reasons.some((r) => BQ_THROTTLE_REASONS.has(r))) {
      const header = e.response?.headers?.['retry-after'];
      return new CloudThrottledError(what, retryAfterMs(Array.isArray(header) ? header[0] : header), err);
    }
    if (status === 401 || status === 403 || reasons.some((r) => BQ_AUTH_REASONS.has(r)) || e.code === 'invalid_grant') {
      const who = ctx.email ? `serviceAccount:${ctx.email}` : 'the service account';
      return new CloudAuthError(withHint(what, `The service account needs roles/bigquery.jobUser on project ${ctx.project} (to run the query) and roles/bigquery.dataViewer on the billing export dataset ${ctx.dataset}: gcloud projects add-iam-policy-binding ${ctx.project} --member=${who} --role=roles/bigquery.jobUser, then grant BigQuery Data Viewer on the dataset (BigQuery console > ${ctx.dataset} > Sharing > Permissions, or bq add-iam-policy-binding --member=${who} --role=roles/bigquery.dataViewer ${ctx.dataset.replace('.', ':')})`), err);
    }
    if (status === 404 || reasons.includes('notFound')) {
      // A lost job (wrong location, expired) is worth a new collection; a missing table or dataset is not.
      if (/^Not found: Job\b/.test(message)) return new CloudUnavailableError(what, err);
      return new UnprocessableError(withHint(what, `The billing export table ${ctx.table} was not found: check the credential's billingDataset and billingTable options (Billing > Billing export > BigQuery export names the dataset; the detailed usage cost table is gcp_billing_export_resource_v1_<BILLING_ACCOUNT_ID>)`));
    }
    if (status === 400 || reasons.includes('invalidQuery') || reasons.includes('invalid')) {
      return new UnprocessableError(withHint(what, `BigQuery refused the cost query on ${ctx.table}: check that billingTable names a Cloud Billing export table`));
    }
    return new CloudUnavailableError(what, err);
  };
}
