import { rmSync } from 'node:fs';
import { Worker, type Job } from 'bullmq';
import { Operation } from '../src/modules/provisioning/entities.ts';
import { catalog, QUEUE_NAMES, type JobName, type QueueName } from '../src/queue/catalog.ts';
import { createRedis } from '../src/queue/redis.ts';
import type { Runtime } from '../src/runtime.ts';
import { HealthProcessor, InventoryProcessor } from './inventory.ts';
import { ApiBudget, DEFAULT_LIMITS } from '../src/clouds/budget.ts';
import { ProvisioningProcessor } from './provisioning.ts';
import { CostProcessor } from './cost.ts';
import { startReconciler } from './reconciler.ts';
import { WorkerStateServer } from './state-server.ts';
import { workerTempDir } from './workdirs.ts';

const CONCURRENCY: Record<QueueName, (rt: Runtime) => number> = {
  provisioning: (rt) => rt.config.workerConcurrency,
  // Listing is paced by the shared API budget, so more at once costs little time; each job holds one parsed page
  // (tens of MB for 1,000 EC2 instances), which is what a worker's peak memory grows with.
  inventory: () => 8,
  health: () => 4,
  // Each collection streams pages into PostgreSQL; two at once keep one writing while the other fetches.
  cost: () => 2,
};

/** Every catalog job has exactly one processor, or the worker refuses to start (and says which). */
function assertWiring(processors: Partial<Record<JobName, unknown>>): void {
  const missing = (Object.keys(catalog) as JobName[]).filter((j) => !processors[j]);
  if (missing.length > 0) throw new Error(`No processor for job(s) ${missing.join(', ')}: add them to workers/index.ts`);
}

/**
 * The worker role: one BullMQ worker per queue of the catalog, dispatching by job name; the loopback state backend
 * its terraform uses; and the reconciler that re-enqueues accepted work Redis lost.
 */
export async function startWorkers(rt: Runtime): Promise<() => Promise<void>> {
  const stateServer = new WorkerStateServer(rt.orm, rt.state, rt.config.stateMaxBytes);
  await stateServer.start();
  const tempDir = workerTempDir();
  const provisioning = new ProvisioningProcessor(rt, stateServer, tempDir);
  // One budget per process, backed by Redis: every job type draws from the same buckets.
  const budget = new ApiBudget(rt.redis, rt.config.redis.prefix);
  const inventory = new InventoryProcessor(rt, rt.sync, budget);
  const health = new HealthProcessor(rt, new ApiBudget(rt.redis, rt.config.redis.prefix, DEFAULT_LIMITS, 1));
  const cost = new CostProcessor(rt, rt.cost, budget);
  const processors: Record<JobName, (job: Job, token?: string) => Promise<void>> = {
    provision: provisioning.process,
    'inventory-plan': inventory.plan,
    'inventory-scope': inventory.scope,
    'inventory-finish': inventory.finish,
    'health-check': health.check,
    'scheduled-sync': inventory.scheduled,
    'scheduled-health': health.scheduled,
    'cost-collect': cost.collect,
    'scheduled-cost': cost.scheduled,
  };
  assertWiring(processors);

  const connection = createRedis(rt.config.redis.url, { forWorker: true });
  const workers = QUEUE_NAMES.map((queue) => {
    const worker = new Worker(queue, (job, token) => processors[job.name as JobName](job, token), {
      connection,
      prefix: rt.config.redis.prefix,
      concurrency: CONCURRENCY[queue](rt),
      // A job whose worker died is handed to another worker once its lock lapses (30 s), once; after that it fails.
      maxStalledCount: 1,
    });
    worker.on('error', (err) => rt.log.warn({ err, queue }, 'worker error'));
    return worker;
  });
  workers[QUEUE_NAMES.indexOf('provisioning')]!.on('failed', (job, err) => {
    if (!job || job.attemptsMade < (job.opts.attempts ?? catalog.provision.options.attempts)) return;
    // The last attempt failed for a reason the processor did not settle itself: record it on the operation.
    const { operationId } = job.data as { operationId: string };
    rt.orm.em
      .fork()
      .nativeUpdate(Operation, { id: operationId, status: { $in: ['queued', 'running'] } }, { status: 'failed', step: 'done', error: err.message, finishedAt: new Date() })
      .catch((e: unknown) => rt.log.error({ err: e, operationId }, 'could not record a failed operation'));
  });
  const stopReconciler = startReconciler(rt);
  rt.log.info({ queues: QUEUE_NAMES }, 'worker role ready');
  return async () => {
    stopReconciler();
    provisioning.abortAll();
    await Promise.all(workers.map((w) => w.close()));
    await stateServer.stop();
    connection.disconnect();
    rmSync(tempDir, { recursive: true, force: true });
  };
}
