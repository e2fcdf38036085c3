import { rmSync } from 'node:fs';
import { Worker } from 'bullmq';
import { terraformEngine } from '../src/clouds/terraform/index.ts';
import { giveBackAttempt, recordOperationFailure } from '../src/modules/provisioning/index.ts';
import { accountCap, catalog, QUEUE_NAMES, queueConcurrency, type JobName, type QueueName } from '../src/queue/catalog.ts';
import { createRedis } from '../src/queue/redis.ts';
import type { Runtime } from '../src/deps.ts';
import { HealthProcessor, InventoryProcessor } from './inventory.ts';
import { ApiBudget, DEFAULT_LIMITS } from '../src/clouds/budget.ts';
import { provisioningHandler } from './provisioning.ts';
import { CostProcessor } from './cost.ts';
import { withJobMetrics } from './job-metrics.ts';
import { withAccountCap } from './fairness.ts';
import { startReconciler } from './reconciler.ts';
import { WorkerStateServer } from './state-server.ts';
import { workerTempDir } from './workdirs.ts';
import { JobRunner, settling, SHUTDOWN, type JobHandler, type JobProcessor } from './job-runner.ts';
import { orphanCheck } from './orphans.ts';
import type { StopBudget } from '../src/shared/shutdown.ts';

/** The queues this process consumes (SKYLOFT_WORKER_QUEUES, default all); unknown names stop start-up, named. */
function consumedQueues(rt: Runtime): QueueName[] {
  const wanted = rt.config.workerQueues ?? QUEUE_NAMES;
  const named = [...wanted, ...Object.keys(rt.config.queueConcurrency), ...Object.keys(rt.config.accountConcurrency)];
  const unknown = named.filter((q) => !(QUEUE_NAMES as readonly string[]).includes(q));
  if (unknown.length > 0) throw new Error(`Unknown queue(s) ${[...new Set(unknown)].join(', ')} in SKYLOFT_WORKER_QUEUES, SKYLOFT_QUEUE_CONCURRENCY or SKYLOFT_ACCOUNT_CONCURRENCY: the queues are ${QUEUE_NAMES.join(', ')}`);
  return QUEUE_NAMES.filter((q) => wanted.includes(q));
}

/** Every catalog job has exactly one processor, or the worker refuses to start (and says which). */
function assertWiring(processors: Partial<Record<JobName, unknown>>): void {
  const missing = (Object.keys(catalog) as JobName[]).filter((j) => !processors[j]);
  if (missing.length > 0) throw new Error(`No processor for job(s) ${missing.join(', ')}: add them to workers/index.ts`);
}

/** The worker role, ready but not yet taking jobs (see prepareWorkers). */
export interface PreparedWorkers {
  /** Starts taking jobs, and the reconciler. */
  run(): void;
  /**
   * Stops taking jobs at once; running jobs may finish until budget.jobsUntil, then the rest are aborted (a running
   * terraform gets SIGINT and its lease is released) and handed back to the queue by budget.handBackBy.
   */
  stop(budget?: StopBudget): Promise<void>;
}

/** The worker role, taking jobs at once (the tests' entry; a process starts its roles through src/roles.ts). */
export async function startWorkers(rt: Runtime): Promise<(budget?: StopBudget) => Promise<void>> {
  const workers = await prepareWorkers(rt);
  workers.run();
  return workers.stop;
}

/**
 * The worker role: one BullMQ worker per queue of the catalog, dispatching by job name; the loopback state backend
 * its terraform uses; and the reconciler that re-enqueues accepted work Redis lost. Everything that can fail (the
 * configuration checks, the state backend's listener) happens here, before `run()`: a process that fails to start
 * has taken no job.
 */
export async function prepareWorkers(rt: Runtime): Promise<PreparedWorkers> {
  const queues = consumedQueues(rt);
  const stateServer = new WorkerStateServer(rt.orm, rt.state, rt.config.stateMaxBytes);
  const tempDir = workerTempDir();
  const engine = terraformEngine(rt.config.terraform, tempDir);
  const isolation = engine.isolationWarning();
  if (isolation) rt.log.warn(isolation);
  // One budget per process, backed by Redis: every job type draws from the same buckets.
  const budget = new ApiBudget(rt.redis, rt.config.redis.prefix);
  const inventory = new InventoryProcessor(rt, rt.sync, budget);
  const health = new HealthProcessor(rt, new ApiBudget(rt.redis, rt.config.redis.prefix, DEFAULT_LIMITS, 1));
  const cost = new CostProcessor(rt, rt.cost, budget);
  const handlers: Record<JobName, JobHandler> = {
    provision: provisioningHandler(rt, engine, stateServer),
    'inventory-plan': inventory.plan,
    'inventory-scope': inventory.scope,
    'inventory-finish': { run: inventory.finish },
    'health-check': { run: health.check },
    'scheduled-sync': { run: inventory.scheduled },
    'scheduled-health': { run: health.scheduled },
    'cost-collect': cost.collect,
    'scheduled-cost': { run: cost.scheduled },
  };
  assertWiring(handlers);
  const processors = Object.fromEntries(Object.entries(handlers).map(([job, handler]) => [job, settling(handler)])) as Record<JobName, JobProcessor>;
  await stateServer.start();

  const connection = createRedis(rt.config.redis.url, { forWorker: true });
  const runner = new JobRunner(rt.log, { orphaned: orphanCheck(rt), handingBack: (job) => (job.name === 'provision' ? giveBackAttempt(rt.orm.em.fork(), catalog.provision.payload.parse(job.data).operationId) : Promise.resolve()) });
  const concurrency = (queue: QueueName) => queueConcurrency(rt.config, queue);
  const workers = queues.map((queue) => {
    const dispatch = withAccountCap(rt, queue, (job, token, signal) => processors[job.name as JobName](job, token, signal));
    const worker = new Worker(queue, withJobMetrics(queue, runner.wrap(queue, dispatch)), {
      connection,
      prefix: rt.config.redis.prefix,
      concurrency: concurrency(queue),
      // A job whose worker died is handed to another worker once its lock lapses (30 s), once; after that it fails.
      maxStalledCount: 1,
      autorun: false,
    });
    worker.on('error', (err) => rt.log.warn({ err, queue }, 'worker error'));
    return worker;
  });
  workers[queues.indexOf('provisioning')]?.on('failed', (job, err) => {
    if (!job || job.attemptsMade < (job.opts.attempts ?? catalog.provision.options.attempts)) return;
    // A job that stalled too often fails without its handler: record it on the operation.
    const { operationId } = job.data as { operationId: string };
    recordOperationFailure(rt.orm.em.fork(), operationId, err.message).catch((e: unknown) => rt.log.error({ err: e, operationId }, 'could not record a failed operation'));
  });
  let stopReconciler = async () => {};
  const run = () => {
    for (const w of workers) w.run().catch((err: unknown) => rt.log.error({ err, queue: w.name }, 'worker stopped taking jobs'));
    stopReconciler = startReconciler(rt);
    rt.log.info({
      queues: Object.fromEntries(queues.map((q, i) => [q, workers[i]!.concurrency])),
      accountCaps: Object.fromEntries(queues.map((q) => [q, accountCap(rt.config, q)])),
    }, 'worker role ready');
  };
  const stop = async (budget: StopBudget = { jobsUntil: Date.now(), handBackBy: Date.now() + 10_000 }) => {
    const reconcilerStopped = stopReconciler();
    const closed = Promise.all(workers.map((w) => w.close()));
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      closed.then(() => true),
      new Promise<false>((ok) => (timer = setTimeout(() => ok(false), Math.max(0, budget.jobsUntil - Date.now())))),
    ]);
    clearTimeout(timer);
    if (!finished) {
      rt.log.warn({ handBackBy: new Date(budget.handBackBy).toISOString() }, 'jobs still running at the shutdown limit: stopping them and handing them back to the queue');
      runner.handBackBy = budget.handBackBy;
      for (const w of workers) w.cancelAllJobs(SHUTDOWN);
      await closed;
    }
    await reconcilerStopped;
    await stateServer.stop();
    connection.disconnect();
    rmSync(tempDir, { recursive: true, force: true });
  };
  return { run, stop };
}
