import { OutboundRefusedError } from '../shared/outbound.ts';
import { isProvider, providerOf } from './registry.ts';
import { cloudCaller, DEFAULT_TIMEOUT_MS, positive, type CallGuard, type CloudDeps, type CloudInput, type OpenedCloud } from './toolbox.ts';

export type { CloudDeps, CloudInput, OpenedCloud } from './toolbox.ts';

/**
 * The one entry to the cloud adapters: `openCloud` opens the adapter of a credential's provider through its
 * descriptor (src/clouds/registry.ts). Each descriptor imports its adapter and SDK lazily, so a worker that only
 * syncs AWS never loads the Azure or GCP SDK (the GCP package root alone costs 250 MB). Nothing here imports
 * `modules/`: the caller hands in the decrypted secret. Adapters import the toolbox (toolbox.ts), never this file.
 */

/**
 * Opens the adapter of `input.provider`. Constructing clients calls no cloud API; the first list or probe does.
 * Endpoints stored before the installation's SKYLOFT_ALLOWED_ENDPOINTS changed are checked again: a refused one makes
 * every call fail with the reason, so the credential's health checks and syncs say what to fix.
 */
export async function openCloud(input: CloudInput, deps: CloudDeps): Promise<OpenedCloud> {
  const refused = deps.outbound.endpointProblems(input.endpoints);
  if (refused.length > 0) return refusedCloud(new OutboundRefusedError(`The credential's ${refused.map((p) => `${p.path} ${p.message}`).join('; ')}`));
  const timeoutMs = positive(input.options?.timeoutMs) ?? DEFAULT_TIMEOUT_MS;
  const agents = deps.outbound.agents(deps.tls?.ca);
  const guard: CallGuard = { tenantEndpoint: Object.values(input.endpoints ?? {}).some(Boolean), refusals: agents.refusals, certificateFailures: agents.certificateFailures };
  if (!isProvider(input.provider)) throw new Error(`No cloud adapter for provider '${String(input.provider)}'`);
  return providerOf(input.provider).open(input, { adapter: { caller: cloudCaller(deps.budget, timeoutMs, input.provider, guard), agents }, sandbox: deps.sandbox });
}

/** An adapter whose every call fails with `err`. */
function refusedCloud(err: Error): OpenedCloud {
  const fail = async (): Promise<never> => {
    throw err;
  };
  return {
    inventory: { scopes: fail, list: () => ({ [Symbol.asyncIterator]: () => ({ next: fail }) }) },
    health: { probe: fail },
    cost: { collect: () => ({ [Symbol.asyncIterator]: () => ({ next: fail }) }) },
  };
}

