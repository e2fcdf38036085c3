import { Worker } from 'bullmq';
import { Operation } from '../src/modules/provisioning/entities.ts';
import { catalog } from '../src/queue/catalog.ts';
import { createRedis } from '../src/queue/redis.ts';
import type { Runtime } from '../src/runtime.ts';
import { ProvisioningProcessor } from './provisioning.ts';
import { startReconciler } from './reconciler.ts';
import { WorkerStateServer } from './state-server.ts';
import { workerTempDir } from './workdirs.ts';
import { rmSync } from 'node:fs';

/**
 * The worker role: one BullMQ worker per queue of the catalog, the loopback state backend its terraform uses, and
 * the reconciler that re-enqueues accepted work Redis lost.
 */
export async function startWorkers(rt: Runtime): Promise<() => Promise<void>> {
  const stateServer = new WorkerStateServer(rt.orm, rt.state, rt.config.stateMaxBytes);
  await stateServer.start();
  const tempDir = workerTempDir();
  const processor = new ProvisioningProcessor(rt, stateServer, tempDir);
  const connection = createRedis(rt.config.redis.url, { forWorker: true });
  const worker = new Worker('provisioning', processor.process, {
    connection,
    prefix: rt.config.redis.prefix,
    concurrency: rt.config.workerConcurrency,
    // A job whose worker died is handed to another worker once its lock lapses (30 s), once; after that it fails.
    maxStalledCount: 1,
  });
  worker.on('failed', (job, err) => {
    if (!job || job.attemptsMade < (job.opts.attempts ?? catalog.provisioning.options.attempts)) return;
    // The last attempt failed for a reason the processor did not settle itself: record it on the operation.
    const { operationId } = job.data as { operationId: string };
    rt.orm.em
      .fork()
      .nativeUpdate(Operation, { id: operationId, status: { $in: ['queued', 'running'] } }, { status: 'failed', step: 'done', error: err.message, finishedAt: new Date() })
      .catch((e: unknown) => rt.log.error({ err: e, operationId }, 'could not record a failed operation'));
  });
  worker.on('error', (err) => rt.log.warn({ err }, 'provisioning worker error'));
  const stopReconciler = startReconciler(rt);
  rt.log.info({ concurrency: rt.config.workerConcurrency }, 'worker role ready');
  return async () => {
    stopReconciler();
    processor.abortAll();
    await worker.close();
    await stateServer.stop();
    connection.disconnect();
    rmSync(tempDir, { recursive: true, force: true });
  };
}
