import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { withTimeout } from './timeout.ts';

/**
 * Every Prometheus metric of the process, in one registry (one per process: Prometheus scrapes each process's
 * /metrics, and job, cloud and terraform metrics only exist in the processes that run them). Names start with
 * `skyloft_`; label sets are small and bounded: a route is Fastify's route pattern, never the raw URL, and no label
 * holds an id, a name or an account (the installation reads /metrics, not the accounts, and ids would also make the
 * series unbounded): a credential's freshness is folded into its provider's stalest. Node's own process metrics
 * keep their standard names (process_*, nodejs_*) so the usual dashboards work. The README's "Metrics" section lists
 * them all.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const httpRequestDuration = new Histogram({
  name: 'skyloft_http_request_duration_seconds',
  help: 'HTTP request duration, by method, route pattern (or "unmatched") and status code',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export type JobOutcome = 'completed' | 'failed' | 'retried' | 'delayed';
export const jobDuration = new Histogram({
  name: 'skyloft_job_duration_seconds',
  help: 'Time a worker spent on one job attempt, by queue, job name and outcome (completed, failed, retried, delayed)',
  labelNames: ['queue', 'job', 'outcome'] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
  registers: [registry],
});

export type CloudCallOutcome = 'ok' | 'error' | 'throttled' | 'timeout';
export type RetryReason = 'throttled' | 'transient';
/** provider is aws, azure, gcp or sandbox ("unknown" for a caller that did not say); service e.g. ec2, compute. */
export interface CloudLabels {
  provider: string;
  service: string;
}

export const cloudApiCalls = new Counter({
  name: 'skyloft_cloud_api_calls_total',
  help: 'Cloud API calls (each attempt), by provider, service and outcome (ok, error, throttled, timeout)',
  labelNames: ['provider', 'service', 'outcome'] as const,
  registers: [registry],
});

export const cloudApiRetries = new Counter({
  name: 'skyloft_cloud_api_retries_total',
  help: 'Cloud API calls made again, by reason: throttled (the shared budget backs off) or transient (5xx, network, timeout)',
  labelNames: ['provider', 'service', 'reason'] as const,
  registers: [registry],
});

export const cloudApiBackoff = new Counter({
  name: 'skyloft_cloud_api_backoff_seconds_total',
  help: 'Backoff imposed before a retry (throttled: the block put on the shared budget, honouring Retry-After; transient: the sleep)',
  labelNames: ['provider', 'service', 'reason'] as const,
  registers: [registry],
});

export const cloudApiBudgetWait = new Counter({
  name: 'skyloft_cloud_api_budget_wait_seconds_total',
  help: 'Time calls spent waiting for a token of the shared API budget (pacing and throttling blocks together)',
  labelNames: ['provider', 'service'] as const,
  registers: [registry],
});

export type TerraformOutcome = 'ok' | 'error' | 'timeout' | 'canceled';
export const terraformStepDuration = new Histogram({
  name: 'skyloft_terraform_step_duration_seconds',
  help: 'Duration of one terraform command, by step (init, plan, apply, show, output, state, other) and outcome',
  labelNames: ['step', 'outcome'] as const,
  buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600],
  registers: [registry],
});

/** One queue's job counts, as GET /v1/queues answers them. */
export interface QueueCounts {
  name: string;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
  paused: boolean;
}

export interface CredentialFreshness {
  credentialId: string;
  provider: string;
  ageSeconds: number;
}

/**
 * Scrape-time sources. The http layer plugs them in (shared/ imports nothing but config, so it cannot reach Redis or
 * PostgreSQL itself). A read in flight is shared, so the gauges one scrape renders in parallel make one round trip;
 * a finished one is reused for `cacheMs` (0: not at all). Each read has a bounded time: a dependency that does not
 * answer leaves its gauges out of the scrape (and skyloft_metrics_source_up at 0) instead of hanging it.
 */
interface Source<T> {
  load: () => Promise<T>;
  timeoutMs: number;
  cacheMs: number;
  pending?: { at: number; value: Promise<T | undefined>; settled: boolean };
}

interface Sources {
  queues: Source<QueueCounts[]>;
  inventory: Source<CredentialFreshness[]>;
}
type SourceName = keyof Sources;
const sources: Partial<Sources> = {};

/** Plugs in a source; returns its removal (which only removes it if no one replaced it since). */
export function setMetricsSource<K extends SourceName>(name: K, load: Sources[K]['load'], opts: { timeoutMs: number; cacheMs: number }): () => void {
  const source = { load, ...opts } as Sources[K];
  sources[name] = source;
  return () => {
    if (sources[name] === source) delete sources[name];
  };
}

async function read<K extends SourceName>(name: K): Promise<Awaited<ReturnType<Sources[K]['load']>> | undefined> {
  const source = sources[name] as Source<unknown> | undefined;
  if (!source) return undefined;
  const now = Date.now();
  // A read in flight is always shared (the gauges of one scrape collect in parallel); a finished one for cacheMs.
  if (!source.pending || (source.pending.settled && now - source.pending.at > source.cacheMs)) {
    const value = withTimeout(source.load(), source.timeoutMs, `metrics source ${name}`).catch(() => undefined);
    const pending = { at: now, value, settled: false };
    source.pending = pending;
    void value.then((v) => {
      pending.settled = true;
      // A failure is not cached: the next scrape asks again.
      if (v === undefined && source.pending === pending) source.pending = undefined;
    });
  }
  return (await source.pending.value) as Awaited<ReturnType<Sources[K]['load']>> | undefined;
}

export const metricsSourceUp = new Gauge({
  name: 'skyloft_metrics_source_up',
  help: '1 when a scrape-time source (queues: Redis; inventory: PostgreSQL) answered in time for this scrape, else 0',
  labelNames: ['source'] as const,
  registers: [registry],
  async collect() {
    const names = Object.keys(sources) as SourceName[];
    const values = await Promise.all(names.map((name) => read(name))); // in the same tick as the gauges' reads: shared
    this.reset();
    names.forEach((name, i) => this.set({ source: name }, values[i] === undefined ? 0 : 1));
  },
});

export const queueJobs = new Gauge({
  name: 'skyloft_queue_jobs',
  help: 'Jobs per queue and state (waiting, active, delayed, failed, completed), read from Redis at scrape time',
  labelNames: ['queue', 'state'] as const,
  registers: [registry],
  async collect() {
    const counts = await read('queues');
    this.reset();
    for (const q of counts ?? []) {
      for (const state of ['waiting', 'active', 'delayed', 'failed', 'completed'] as const) this.set({ queue: q.name, state }, q[state]);
    }
  },
});

export const queuePaused = new Gauge({
  name: 'skyloft_queue_paused',
  help: '1 when the queue is paused, else 0',
  labelNames: ['queue'] as const,
  registers: [registry],
  async collect() {
    const counts = await read('queues');
    this.reset();
    for (const q of counts ?? []) this.set({ queue: q.name }, q.paused ? 1 : 0);
  },
});

export const inventoryAge = new Gauge({
  name: 'skyloft_inventory_sync_age_seconds',
  help: 'Seconds since the last complete inventory sync of the stalest credential of each provider (since its creation when it never synced)',
  labelNames: ['provider'] as const,
  registers: [registry],
  async collect() {
    const rows = await read('inventory');
    this.reset();
    const stalest = new Map<string, number>();
    for (const r of rows ?? []) stalest.set(r.provider, Math.max(stalest.get(r.provider) ?? 0, r.ageSeconds));
    for (const [provider, age] of stalest) this.set({ provider }, age);
  },
});

/** The service part of a budget scope key (`${credentialId}:${region}:${service}`). */
export function serviceOf(scopeKey: string): string {
  const i = scopeKey.lastIndexOf(':');
  return i >= 0 ? scopeKey.slice(i + 1) : 'unknown';
}
