import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type { AdapterDeps } from '../toolbox.ts';

export type Agents = AdapterDeps['agents'];

/**
 * Sets the outbound guard's agent on every request of a pipeline (the guard's https agent carries the extra CA, so
 * tlsOptions are not needed beside it). It runs after the proxy policy: a request the installation sends through its
 * own HTTPS_PROXY keeps the proxy's agent, and the proxy resolves the name.
 */
export function guardPolicy(agents: Agents): PipelinePolicy {
  return {
    name: 'skyloftOutboundGuard',
    sendRequest(request, next) {
      request.agent ??= request.url.startsWith('http:') ? agents.http : agents.https;
      return next(request);
    },
  };
}

/**
 * Client options that route every request of an Azure SDK client (MSAL's included) through the guard, and follow no
 * redirect: a tenant's endpoint could otherwise send the client (and its token) to a host nobody allowed.
 */
export const guarded = (agents: Agents) => ({
  additionalPolicies: [{ policy: guardPolicy(agents), position: 'perRetry' as const }],
  redirectOptions: { maxRetries: 0 },
});
