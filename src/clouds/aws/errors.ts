import { retryAfterMs, withHint } from '../toolbox.ts';
import { CloudAuthError, CloudThrottledError, CloudUnavailableError } from '../ports.ts';

/**
 * AWS SDK v3 errors into the ports' errors. Service errors carry the AWS error code as `name` and the HTTP status in
 * `$metadata.httpStatusCode`; network failures are plain Errors with a Node `code` (ECONNREFUSED, ECONNRESET, ...).
 *
 * A 503 is a throttle only when AWS says so (RequestLimitExceeded, SlowDown) or sends Retry-After: EC2's
 * `Unavailable` and STS's `ServiceUnavailable` are outages, and treating them as throttles would halve the shared
 * budget of every job for a fault no slower pace fixes.
 */
const THROTTLING = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'SlowDown',
  'EC2ThrottledException',
  'BandwidthLimitExceeded',
  // Cost Explorer's (HTTP 400) answer to too many requests.
  'LimitExceededException',
]);

const AUTH = new Set([
  'AuthFailure',
  'UnauthorizedOperation',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ExpiredTokenException',
  'RequestExpired',
  'AccessDenied',
  'AccessDeniedException',
  'InvalidAccessKeyId',
  'InvalidToken',
  'MissingAuthenticationToken',
  'OptInRequired',
  'UnrecognizedClientException',
  // The credential chain itself: no keys found, or AssumeRole refused before any service call.
  'CredentialsProviderError',
]);

interface AwsLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
}

export function translateAwsError(err: unknown): Error {
  const e = (err ?? {}) as AwsLikeError;
  const name = e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  const what = `AWS ${name || 'error'}${status ? ` (HTTP ${status})` : ''}: ${e.message ?? String(err)}`;
  const retryAfter = retryAfterMs(e.$response?.headers?.['retry-after']);
  if (THROTTLING.has(name) || status === 429 || (status === 503 && retryAfter !== undefined)) {
    return new CloudThrottledError(what, retryAfter, err);
  }
  if (AUTH.has(name) || status === 401 || status === 403) {
    return new CloudAuthError(withHint(what, "Check the credential's keys, the role's trust policy and the IAM permissions"), err);
  }
  return new CloudUnavailableError(what, err);
}
