import { setTimeout as sleep } from 'node:timers/promises';
import { cloudApiBackoff, cloudApiCalls, cloudApiRetries, serviceOf, type CloudLabels } from '../shared/metrics.ts';
import type { ApiBudget } from './budget.ts';
import { CloudThrottledError, CloudUnavailableError, type CostReader, type HealthProbe, type InventoryReader } from './ports.ts';

/**
 * The one entry to the cloud adapters: `openCloud` picks the adapter of a credential's provider. Each adapter
 * imports its SDK lazily inside its factory, so a worker that only syncs AWS never loads the Azure or GCP SDK (the
 * GCP package root alone costs 250 MB). Nothing here imports `modules/`: the caller hands in the decrypted secret.
 */
export type CloudProvider = 'aws' | 'azure' | 'gcp' | 'sandbox';

export interface CloudInput {
  provider: CloudProvider;
  credentialId: string;
  /** Home region: AWS STS, DescribeRegions and S3 calls go there. */
  region?: string | null;
  /** The regions to cover; unset, every region the account reports enabled. */
  regions?: string[] | null;
  /** `api` replaces the cloud's API origin (emulators, sovereign clouds, VPC endpoints); `authorityHost` Azure's login. */
  endpoints?: { api?: string; authorityHost?: string };
  /** Provider settings; the adapters read `pageSize` (items per list call) and `timeoutMs` (per call). */
  options?: Record<string, unknown>;
  /** The decrypted secret, in the shape src/modules/credentials/secrets.ts validated. */
  secret: unknown;
}

export interface CloudDeps {
  budget: ApiBudget;
  /**
   * Extra CA (PEM) to trust, e.g. for a TLS-intercepting proxy or a local emulator: AWS and Azure clients take it;
   * GCP's transport trusts the system store and NODE_EXTRA_CA_CERTS only.
   */
  tls?: { ca?: string };
}

export interface OpenedCloud {
  inventory: InventoryReader;
  health: HealthProbe;
  cost: CostReader;
}

/**
 * One cloud call as every adapter makes it: through the shared budget of `scopeKey`
 * (`${credentialId}:${region}:${service}`), bounded by a per-attempt timeout, with SDK errors translated into the
 * ports' errors. The SDKs' own retries are switched off so every throttling answer reaches the budget (which slows
 * all jobs of that scope down and retries); a transient failure (5xx, network) is retried here a few times, then
 * surfaces as CloudUnavailableError.
 */
export type CloudCall = <T>(scopeKey: string, fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal) => Promise<T>;

export interface AdapterDeps {
  /** Builds the CloudCall of one adapter from its error translation. */
  caller: (translate: (err: unknown) => Error) => CloudCall;
  tls?: { ca?: string };
}

const TRANSIENT_ATTEMPTS = 3;
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Every attempt is counted in skyloft_cloud_api_calls_total by `provider` and the scope key's service, and every
 * transient retry with its backoff (the budget counts the throttled ones): the one place all cloud calls pass.
 */
export function cloudCaller(budget: ApiBudget, timeoutMs = DEFAULT_TIMEOUT_MS, provider = 'unknown') {
  return (translate: (err: unknown) => Error): CloudCall =>
    async (scopeKey, fn, signal) => {
      const labels: CloudLabels = { provider, service: serviceOf(scopeKey) };
      for (let attempt = 1; ; attempt++) {
        try {
          return await budget.call(scopeKey, () => attemptOnce(fn, translate, timeoutMs, labels, signal), { signal, labels });
        } catch (err) {
          if (!(err instanceof CloudUnavailableError) || attempt >= TRANSIENT_ATTEMPTS || signal?.aborted) throw err;
          const backoffMs = 250 * 4 ** (attempt - 1) * (0.5 + Math.random() / 2);
          cloudApiRetries.inc({ ...labels, reason: 'transient' });
          cloudApiBackoff.inc({ ...labels, reason: 'transient' }, backoffMs / 1000);
          await sleep(backoffMs, undefined, { signal });
        }
      }
    };
}

async function attemptOnce<T>(fn: (signal: AbortSignal) => Promise<T>, translate: (err: unknown) => Error, timeoutMs: number, labels: CloudLabels, signal?: AbortSignal): Promise<T> {
  signal?.throwIfAborted();
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  try {
    // Not every SDK call honours an abort signal (Azure's next-page requests, gax): stop waiting for it regardless.
    const result = await untilAborted(fn(combined), combined);
    cloudApiCalls.inc({ ...labels, outcome: 'ok' });
    return result;
  } catch (err) {
    if (signal?.aborted) throw signal.reason; // canceled by the job: not the cloud's doing, not counted
    if (timeout.aborted) {
      cloudApiCalls.inc({ ...labels, outcome: 'timeout' });
      throw new CloudUnavailableError(`The cloud did not answer within ${timeoutMs} ms`, err);
    }
    const translated = translate(err);
    cloudApiCalls.inc({ ...labels, outcome: translated instanceof CloudThrottledError ? 'throttled' : 'error' });
    throw translated;
  }
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Opens the adapter of `input.provider`. Constructing clients calls no cloud API; the first list or probe does. */
export async function openCloud(input: CloudInput, deps: CloudDeps): Promise<OpenedCloud> {
  const timeoutMs = positive(input.options?.timeoutMs) ?? DEFAULT_TIMEOUT_MS;
  const adapterDeps: AdapterDeps = { caller: cloudCaller(deps.budget, timeoutMs, input.provider), ...(deps.tls && { tls: deps.tls }) };
  switch (input.provider) {
    case 'aws':
      return (await import('./aws/index.ts')).openAws(input, adapterDeps);
    case 'azure':
      return (await import('./azure/index.ts')).openAzure(input, adapterDeps);
    case 'gcp':
      return (await import('./gcp/index.ts')).openGcp(input, adapterDeps);
    case 'sandbox':
      return (await import('./sandbox/index.ts')).openSandbox();
    default:
      throw new Error(`No cloud adapter for provider '${String((input as { provider: unknown }).provider)}'`);
  }
}

/** A positive finite number from an untyped option, else undefined. */
export function positive(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
}

/** Retry-After as seconds or an HTTP date, in milliseconds. */
export function retryAfterMs(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** "What happened. How to fix it." without doubled periods, for the adapters' error messages. */
export function withHint(what: string, hint: string): string {
  return `${what.replace(/[.\s]+$/, '')}. ${hint}`;
}
