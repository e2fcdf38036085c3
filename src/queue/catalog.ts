import { FlowProducer, Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Config } from '../config/index.ts';
import { currentContext } from '../shared/context.ts';

/**
 * The typed job catalog: every job, its queue, payload schema, retry policy and deterministic id in one place.
 * Payloads carry ids only: never a credential, a secret or a state (those stay in PostgreSQL, read by the worker).
 * `row` names the database row a job works for (its table and the payload field holding its id): a job whose row does
 * not exist in this installation's database is an orphan, completed without running (workers/orphans.ts).
 * `capped`: the job counts against its account's cap on its queue (workers/fairness.ts); scheduler ticks only enqueue,
 * so they are not. Each queue's concurrency and account cap are in `queuePolicy` below.
 * BullMQ refuses ':' in custom ids, hence '_'.
 */
const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '-');

/**
 * A job's payload: its ids, the account it works for, plus the id of the HTTP request that caused it (set by Queues
 * from the work context, so logs tie a job to its request; never part of a job id). Strict and flat: anything else is
 * refused, which is also what lets src/queue/account-jobs.ts read `"accountId":"..."` straight from the stored JSON.
 *
 * accountId says whose job it is (the queue dashboard and GET /v1/queues show an account its own jobs only). Every
 * producer sets it (Queues' types require it) from the row it enqueues for, never from a request; it is optional here
 * only so jobs queued before it existed still run. A job without one is the installation's: no account sees it.
 * Workers still look every row up by its own id and account: accountId attributes a job, it grants nothing.
 */
export const ACCOUNT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const payload = <S extends z.ZodRawShape>(shape: S) =>
  z.strictObject({ ...shape, accountId: z.string().regex(ACCOUNT_ID).optional(), requestId: z.string().max(100).optional() });

export const catalog = {
  provision: {
    queue: 'provisioning',
    payload: payload({ operationId: z.uuid(), resourceId: z.uuid(), phase: z.enum(['plan', 'apply']) }),
    row: { table: 'operations', field: 'operationId' },
    capped: true,
    options: { attempts: 3, backoff: { type: 'exponential', delay: 5_000 } } satisfies JobsOptions,
    id: (p: { operationId: string; resourceId: string; phase: string }) => `${p.resourceId}_${p.operationId}_${p.phase}`,
  },
  /** Lists a credential's scopes and fans out one scope job per (region, kind) under a finishing parent. */
  'inventory-plan': {
    queue: 'inventory',
    payload: payload({ runId: z.uuid() }),
    row: { table: 'sync_runs', field: 'runId' },
    capped: true,
    options: { attempts: 5, backoff: { type: 'exponential', delay: 2_000 } } satisfies JobsOptions,
    id: (p: { runId: string }) => `plan_${p.runId}`,
  },
  'inventory-scope': {
    queue: 'inventory',
    payload: payload({ runId: z.uuid(), region: z.string(), kind: z.string() }),
    row: { table: 'sync_runs', field: 'runId' },
    capped: true,
    options: { attempts: 4, backoff: { type: 'exponential', delay: 2_000 } } satisfies JobsOptions,
    id: (p: { runId: string; region: string; kind: string }) => `scope_${p.runId}_${safe(p.region)}_${safe(p.kind)}`,
  },
  'inventory-finish': {
    queue: 'inventory',
    payload: payload({ runId: z.uuid() }),
    row: { table: 'sync_runs', field: 'runId' },
    capped: true,
    options: { attempts: 5, backoff: { type: 'exponential', delay: 2_000 } } satisfies JobsOptions,
    id: (p: { runId: string }) => `finish_${p.runId}`,
  },
  'health-check': {
    queue: 'health',
    payload: payload({ credentialId: z.uuid(), checkId: z.uuid() }),
    row: { table: 'credentials', field: 'credentialId' },
    capped: true,
    options: { attempts: 2, backoff: { type: 'fixed', delay: 2_000 } } satisfies JobsOptions,
    id: (p: { checkId: string }) => `health_${p.checkId}`,
  },
  /** One cost collection run; waits (delayed) while another collection of the same credential runs. */
  'cost-collect': {
    queue: 'cost',
    payload: payload({ runId: z.uuid() }),
    row: { table: 'cost_runs', field: 'runId' },
    capped: true,
    options: { attempts: 4, backoff: { type: 'exponential', delay: 10_000 } } satisfies JobsOptions,
    id: (p: { runId: string }) => `cost_${p.runId}`,
  },
  /** Produced by the per-credential job schedulers (src/modules/schedules): start a sync run, or check health. */
  'scheduled-sync': {
    queue: 'inventory',
    payload: payload({ credentialId: z.uuid() }),
    row: { table: 'credentials', field: 'credentialId' },
    capped: false,
    options: { attempts: 1 } satisfies JobsOptions,
    id: (p: { credentialId: string }) => `scheduled-sync_${p.credentialId}`,
  },
  'scheduled-health': {
    queue: 'health',
    payload: payload({ credentialId: z.uuid() }),
    row: { table: 'credentials', field: 'credentialId' },
    capped: false,
    options: { attempts: 1 } satisfies JobsOptions,
    id: (p: { credentialId: string }) => `scheduled-health_${p.credentialId}`,
  },
  'scheduled-cost': {
    queue: 'cost',
    payload: payload({ credentialId: z.uuid() }),
    row: { table: 'credentials', field: 'credentialId' },
    capped: false,
    options: { attempts: 1 } satisfies JobsOptions,
    id: (p: { credentialId: string }) => `scheduled-cost_${p.credentialId}`,
  },
} as const;

export type JobName = keyof typeof catalog;
export type QueueName = (typeof catalog)[JobName]['queue'];
export type Payload<J extends JobName> = z.infer<(typeof catalog)[J]['payload']>;
/** What a producer enqueues: the payload with its account. */
export type Produced<J extends JobName> = Payload<J> & { accountId: string };
export const QUEUE_NAMES = [...new Set(Object.values(catalog).map((j) => j.queue))] as QueueName[];

/** The configuration a queue's policy derives from. */
export type QueueConfig = Pick<Config, 'workerConcurrency' | 'queueConcurrency' | 'accountConcurrency'>;

/**
 * Each queue's policy: the jobs one worker process runs at once (SKYLOFT_QUEUE_CONCURRENCY overrides it per queue)
 * and the jobs of one account running at once across every worker (SKYLOFT_ACCOUNT_CONCURRENCY, else half the
 * queue's concurrency, at least one: whatever one account has queued, every worker keeps the other half of its slots
 * for the other accounts). workers/index.ts and workers/fairness.ts only read it.
 */
export const queuePolicy: Record<QueueName, { concurrency(config: QueueConfig): number }> = {
  // SKYLOFT_WORKER_CONCURRENCY, default 8: terraform mostly waits on the clouds' APIs, and each run costs the worker
  // little beside its own terraform process (README, "Run it at scale").
  provisioning: { concurrency: (c) => c.workerConcurrency },
  // Listing is paced by the shared API budget, so more at once costs little time; each job holds one parsed page
  // (tens of MB for 1,000 EC2 instances), which is what a worker's peak memory grows with.
  inventory: { concurrency: () => 8 },
  health: { concurrency: () => 4 },
  // Each collection streams pages into PostgreSQL; two at once keep one writing while the other fetches.
  cost: { concurrency: () => 2 },
};

/** Jobs of `queue` one worker process runs at once. */
export function queueConcurrency(config: QueueConfig, queue: QueueName): number {
  return config.queueConcurrency[queue] ?? queuePolicy[queue].concurrency(config);
}

/** Jobs of one account on `queue` running at once across every worker. */
export function accountCap(config: QueueConfig, queue: QueueName): number {
  return config.accountConcurrency[queue] ?? Math.max(1, Math.floor(queueConcurrency(config, queue) / 2));
}

/**
 * The account a job counts against on its queue: undefined for jobs that are not capped. `named` is the payload's
 * accountId; `row` the catalog row to read it from when a job was queued before payloads named it (workers/fairness.ts).
 */
export function accountOf(job: string, data: unknown): { named: string } | { row: { table: string; id: string } } | undefined {
  if (!Object.hasOwn(catalog, job)) return undefined;
  const entry = catalog[job as JobName];
  const fields = (data ?? {}) as Record<string, unknown>;
  const id = fields[entry.row.field];
  if (!entry.capped || typeof id !== 'string') return undefined;
  return typeof fields.accountId === 'string' ? { named: fields.accountId } : { row: { table: entry.row.table, id } };
}

export function jobOptions<J extends JobName>(job: J, payload: Payload<J>): JobsOptions {
  const entry = catalog[job];
  return { ...entry.options, jobId: (entry.id as (p: Payload<J>) => string)(payload) };
}

/** The payload with the current request's id (see src/shared/context.ts), unless it names one already. */
function withRequestId<P extends { requestId?: string }>(payload: P): P {
  const requestId = currentContext()?.requestId;
  return requestId && payload.requestId === undefined ? { ...payload, requestId } : payload;
}

/** Finished job records BullMQ keeps per queue (SKYLOFT_KEEP_COMPLETED_JOBS, SKYLOFT_KEEP_FAILED_JOBS). */
export interface JobRetention {
  completed: number;
  failed: number;
}

/** Producers for every queue, sharing one connection. */
export class Queues {
  /** The producers' shared connection (src/queue/account-jobs.ts scans over it too). */
  readonly connection: Redis;
  readonly prefix: string;
  private readonly queues = new Map<QueueName, Queue>();
  private flows: FlowProducer | undefined;
  /** The removeOnComplete / removeOnFail every job and job scheduler of this installation gets. */
  readonly keep: { removeOnComplete: { count: number }; removeOnFail: { count: number } };

  constructor(connection: Redis, prefix: string, retention: JobRetention = { completed: 1_000, failed: 5_000 }) {
    this.connection = connection;
    this.prefix = prefix;
    this.keep = { removeOnComplete: { count: retention.completed }, removeOnFail: { count: retention.failed } };
  }

  get(name: QueueName): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix });
      // Connection errors surface where they matter, as a failed add(); without a listener BullMQ prints each one.
      queue.on('error', () => {});
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** `dedupe`: BullMQ's deduplication, for jobs several processes may add at once (src/modules/health: start-up re-checks). */
  async add<J extends JobName>(job: J, payload: Produced<J>, dedupe?: Pick<JobsOptions, 'deduplication'>): Promise<void> {
    const entry = catalog[job];
    await this.get(entry.queue).add(job, entry.payload.parse(withRequestId(payload)), { ...jobOptions(job, payload), ...this.keep, ...dedupe });
  }

  /** A parent job that runs once every child has finished (failed children included: they record their failure). */
  async addFlow<P extends JobName, C extends JobName>(parent: { job: P; payload: Produced<P> }, children: { job: C; payload: Produced<C> }[]): Promise<void> {
    this.flows ??= new FlowProducer({ connection: this.connection, prefix: this.prefix });
    await this.flows.add({
      name: parent.job,
      queueName: catalog[parent.job].queue,
      data: catalog[parent.job].payload.parse(withRequestId(parent.payload)),
      opts: { ...jobOptions(parent.job, parent.payload), ...this.keep },
      children: children.map((c) => ({
        name: c.job,
        queueName: catalog[c.job].queue,
        data: catalog[c.job].payload.parse(withRequestId(c.payload)),
        opts: { ...jobOptions(c.job, c.payload), ...this.keep, ignoreDependencyOnFailure: true },
      })),
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    await this.flows?.close();
  }
}
