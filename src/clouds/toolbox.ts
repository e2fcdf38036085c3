import { setTimeout as sleep } from 'node:timers/promises';
import { cloudApiBackoff, cloudApiCalls, cloudApiRetries, serviceOf, type CloudLabels } from '../shared/metrics.ts';
import { describeCertificateFailure, type CertificateFailure } from '../shared/certificates.ts';
import { certificateFailureIn, isNetworkFailure, isOutboundRefusal, OutboundRefusedError, type GuardedAgents, type OutboundGuard } from '../shared/outbound.ts';
import type { ApiBudget } from './budget.ts';
import { CloudCertificateError, CloudThrottledError, CloudUnavailableError, type CostReader, type HealthProbe, type InventoryReader, type SandboxLedger } from './ports.ts';

/**
 * The adapters' toolbox: what every cloud adapter shares (the input it is opened with, the budgeted and translated
 * CloudCall, small helpers). It imports no adapter and not the registry, so adapters may import it freely.
 */
export interface CloudInput {
  /** A registered provider id (src/clouds/registry.ts). */
  provider: string;
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
  /**
   * Set only where SKYLOFT_AWS_HOST_IDENTITY allows an AWS role without keys: the ExternalId Skyloft assumes it with
   * (the account's own, never the caller's). Without it, such a role is refused.
   */
  awsHostIdentity?: { externalId: string };
}

export interface CloudDeps {
  budget: ApiBudget;
  /** Every connection an adapter makes goes through its agents; the credential's endpoints are checked again here. */
  outbound: OutboundGuard;
  /**
   * Extra CA (PEM) to trust, e.g. for a TLS-intercepting proxy or a local emulator: the outbound guard's https agent,
   * which every client of every cloud connects through, takes it.
   */
  tls?: { ca?: string };
  /** What Skyloft provisioned with sandbox credentials: the sandbox adapter's whole world (workers/clouds.ts). */
  sandbox?: SandboxLedger;
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
  /** The outbound guard's agents (with the extra CA, if any): every SDK client of the adapter connects through them. */
  agents: GuardedAgents;
}

const TRANSIENT_ATTEMPTS = 3;
/** A tenant's endpoint that did not answer: said the same way whatever the socket saw, so it maps no ports. */
export const UNREACHABLE = "Could not reach the credential's endpoint";
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Every attempt is counted in skyloft_cloud_api_calls_total by `provider` and the scope key's service, and every
 * transient retry with its backoff (the budget counts the throttled ones): the one place all cloud calls pass.
 */
export function cloudCaller(budget: ApiBudget, timeoutMs = DEFAULT_TIMEOUT_MS, provider = 'unknown', guard: CallGuard = {}) {
  return (translate: (err: unknown) => Error): CloudCall =>
    async (scopeKey, fn, signal) => {
      const labels: CloudLabels = { provider, service: serviceOf(scopeKey) };
      for (let attempt = 1; ; attempt++) {
        try {
          return await budget.call(scopeKey, () => attemptOnce(fn, guarded(translate, guard), timeoutMs, labels, signal, guard.tenantEndpoint), { signal, labels });
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

/** What cloudCaller knows of the outbound guard for one opened cloud. */
export interface CallGuard {
  /** The credential names its own endpoints: failures to reach them are told without network details. */
  tenantEndpoint?: boolean;
  /** Connections the guard's agents refused so far (SDKs such as MSAL replace the refusal with their own error). */
  refusals?: () => number;
  /** TLS certificates the guard's agents saw refused so far, in order (MSAL drops the cause of its own error). */
  certificateFailures?: () => readonly CertificateFailure[];
}

/**
 * The adapter's translation, after three checks of our own, for every cloud alike: a connection the outbound guard
 * refused during the attempt is final and says so; a TLS certificate refused during the attempt (seen by the agents,
 * or in the error's cause chain) is final and says what to fix (issue 19, item 10); and with a tenant-supplied
 * endpoint, any other failure to reach it reads the same (a refused port, a reset, a parse error, DNS), so health
 * messages cannot be used to map the network behind it. A certificate verdict tells a tenant only that something at
 * an endpoint the installation allows speaks TLS: the message names that host (the tenant's own URL) and Node's
 * code, nothing the peer sent.
 */
function guarded(translate: (err: unknown) => Error, guard: CallGuard): (err: unknown) => Error {
  const refusedBefore = guard.refusals?.() ?? 0;
  const certificatesBefore = guard.certificateFailures?.().length ?? 0;
  return (err) => {
    if (isOutboundRefusal(err) || (guard.refusals?.() ?? 0) > refusedBefore) return new OutboundRefusedError();
    const seen = guard.certificateFailures?.() ?? [];
    const certificate = seen.length > certificatesBefore ? seen.at(-1) : certificateFailureIn(err);
    if (certificate) return new CloudCertificateError(describeCertificateFailure(certificate), err);
    if (guard.tenantEndpoint && isNetworkFailure(err)) return new CloudUnavailableError(UNREACHABLE, err);
    return translate(err);
  };
}

async function attemptOnce<T>(fn: (signal: AbortSignal) => Promise<T>, translate: (err: unknown) => Error, timeoutMs: number, labels: CloudLabels, signal?: AbortSignal, tenantEndpoint = false): Promise<T> {
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
      throw new CloudUnavailableError(tenantEndpoint ? UNREACHABLE : `The cloud did not answer within ${timeoutMs} ms`, err);
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
