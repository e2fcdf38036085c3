import { withHint } from '../index.ts';
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
