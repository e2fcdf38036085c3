import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';

/**
 * The typed job catalog: every queue, its job, payload schema and retry policy in one place. Payloads carry ids
 * only: never a credential, a secret or a state (those stay in PostgreSQL, read by the worker).
 */
export const catalog = {
  provisioning: {
    job: 'operation',
    payload: z.strictObject({ operationId: z.uuid(), resourceId: z.uuid(), phase: z.enum(['plan', 'apply']) }),
    options: {
      attempts: 3,
      backoff: { type: 'exponential', delay: 5_000 },
      removeOnComplete: { count: 1_000 },
      removeOnFail: { count: 5_000 },
    } satisfies JobsOptions,
  },
} as const;

export type QueueName = keyof typeof catalog;
export type Payload<Q extends QueueName> = z.infer<(typeof catalog)[Q]['payload']>;

/** Deterministic job ids collapse double submissions; BullMQ refuses ':' in custom ids, hence '_'. */
export function jobId<Q extends QueueName>(queue: Q, payload: Payload<Q>): string {
  switch (queue) {
    case 'provisioning':
      return `${payload.resourceId}_${payload.operationId}_${payload.phase}`;
  }
  throw new Error(`no job id rule for queue ${queue}`);
}

/** Producers for every queue, sharing one connection. */
export class Queues {
  private readonly queues = new Map<QueueName, Queue>();

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
  ) {}

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

  async add<Q extends QueueName>(name: Q, payload: Payload<Q>): Promise<void> {
    const entry = catalog[name];
    await this.get(name).add(entry.job, entry.payload.parse(payload), { ...entry.options, jobId: jobId(name, payload) });
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
