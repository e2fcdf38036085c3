import { retryAfterMs, withHint } from '../toolbox.ts';
import { CloudAuthError, CloudThrottledError, CloudUnavailableError } from '../ports.ts';

/**
 * Azure SDK errors into the ports' errors. ARM answers come as RestError (`statusCode`, `code`, the response with
 * its headers); token requests fail inside @azure/identity as AuthenticationError (with the identity platform's
 * status), AuthenticationRequiredError (MSAL refusing the client: wrong or revoked secret, unknown app) or
 * CredentialUnavailableError. A network failure is a RestError without a status.
 */
interface AzureLikeError {
  name?: string;
  message?: string;
  code?: string;
  statusCode?: number;
  /** ARM's error body (`{ error: { code, message } }`); the RestError message itself is only "unexpected status". */
  details?: { error?: { message?: string } };
  response?: { headers?: { get?: (name: string) => string | undefined } };
}

export function translateAzureError(err: unknown): Error {
  const e = (err ?? {}) as AzureLikeError;
  const status = e.statusCode;
  const name = e.name ?? 'Error';
  const message = firstLine(e.details?.error?.message ?? e.message ?? String(err));
  const what = `Azure ${e.code ?? name}${status ? ` (HTTP ${status})` : ''}: ${message}`;
  const retryAfter = retryAfterMs(e.response?.headers?.get?.('retry-after'));
  if (status === 429 || (status === 503 && retryAfter !== undefined)) return new CloudThrottledError(what, retryAfter, err);
  if (name === 'AuthenticationError') {
    // The identity platform's own outage or throttling is not the credential's fault.
    if (status !== undefined && status >= 500) return new CloudUnavailableError(what, err);
    return new CloudAuthError(withHint(what, 'Check the tenant id, client id and client secret (and whether the secret expired)'), err);
  }
  if (/\b(temporarily_unavailable|server_error|AADSTS90033|AADSTS50196)\b/.test(message)) {
    // The identity platform busy or failing (OAuth's transient codes; AADSTS90033 "a transient error", AADSTS50196
    // "server busy"), which MSAL reports as an authentication failure. Found by test/integration/cloud-faults.test.ts,
    // where it failed whole sync scopes as a bad secret.
    return new CloudUnavailableError(what, err);
  }
  if (name === 'CredentialUnavailableError' && /endpoints_resolution_error/.test(message)) {
    // MSAL says the same for an unknown tenant and for a busy or failing authority, so it is retried like an outage
    // (a 30% throttled identity platform must not fail a sync as a bad credential), and the hint names both causes.
    return new CloudUnavailableError(withHint(what, "The tenant's sign-in endpoints could not be resolved: if this persists, check the tenant id and endpoints.authorityHost"), err);
  }
  if (name === 'AuthenticationRequiredError' || name === 'CredentialUnavailableError' || status === 401 || status === 403) {
    return new CloudAuthError(withHint(what, "Check the client secret and the app's role assignment (e.g. Reader) on the subscription"), err);
  }
  return new CloudUnavailableError(what, err);
}

/** Identity errors carry whole trace dumps; the first line says what happened. */
function firstLine(message: string): string {
  return message.split('\n')[0]!.slice(0, 500);
}

/** Cost Management's throttling headers, one per quota; the longest wait is the one that lets the next query through. */
const COST_RETRY_AFTER = [
  'retry-after',
  'x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after',
  'x-ms-ratelimit-microsoft.costmanagement-entity-retry-after',
  'x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after',
  'x-ms-ratelimit-microsoft.costmanagement-clienttype-retry-after',
];

/**
 * The Cost Management Query API's errors: 429 with its per-quota retry-after headers; RBACAccessDenied (Cost
 * Management's own 401) and AuthorizationFailed (ARM's 403) mean the app may sign in but not read cost data, so the
 * message names the role to grant. Everything else as translateAzureError.
 */
export function costErrorTranslator(clientId: string, subscriptionId: string): (err: unknown) => Error {
  return (err: unknown): Error => {
    const e = (err ?? {}) as AzureLikeError;
    const status = e.statusCode;
    const what = `Azure ${e.code ?? e.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}: ${firstLine(e.details?.error?.message ?? e.message ?? String(err))}`;
    if (status === 429) {
      let wait: number | undefined;
      for (const header of COST_RETRY_AFTER) {
        const ms = retryAfterMs(e.response?.headers?.get?.(header));
        if (ms !== undefined && (wait === undefined || ms > wait)) wait = ms;
      }
      return new CloudThrottledError(what, wait, err);
    }
    if ((status === 401 || status === 403) && (e.code === 'RBACAccessDenied' || e.code === 'AuthorizationFailed')) {
      return new CloudAuthError(withHint(what,
        `The app registration '${clientId}' may not read cost data: grant it the 'Cost Management Reader' role on the subscription `
        + `(Azure portal: Subscriptions > ${subscriptionId} > Access control (IAM) > Add role assignment; or `
        + `az role assignment create --assignee ${clientId} --role "Cost Management Reader" --scope /subscriptions/${subscriptionId})`), err);
    }
    return translateAzureError(err);
  };
}
