import { strandedCostRuns } from '../src/modules/cost/index.ts';
import { syncRunsWithoutPlan } from '../src/modules/inventory/index.ts';
import { settleStalledOperation, strandedOperations, type OperationJob } from '../src/modules/provisioning/index.ts';
import { catalog, jobOptions } from '../src/queue/catalog.ts';
import type { Runtime } from '../src/deps.ts';
import { recheckFailedHealth } from './health-recheck.ts';
import { Background } from './background.ts';

const EVERY_MS = 60_000;

/**
 * The database is the source of truth for accepted work: every minute (and at start-up) each operation that should
 * have a job gets one again. Job ids are deterministic, so an operation whose job still exists is not doubled:
 * - queued operations a minute old (accepted while Redis was down, or lost with a Redis that kept nothing);
 * - running operations whose worker lease lapsed two minutes ago (the worker died and its job went with Redis, or
 *   BullMQ failed the job itself: see resumeStalled);
 * - sync runs that never got their plan job, cost runs that never got (or lost) their collection job.
 */
export async function reconcileOnce(rt: Runtime, olderThanMs = 60_000): Promise<number> {
  const em = rt.orm.em.fork();
  const operations = await strandedOperations(em, olderThanMs);
  for (const { accountId, ...payload } of operations) {
    if (!(await resumeStalled(rt, payload))) await rt.queues.add('provision', { ...payload, accountId });
  }
  const runs = await syncRunsWithoutPlan(em, olderThanMs);
  for (const run of runs) await rt.queues.add('inventory-plan', run);
  const collections = await strandedCostRuns(em, olderThanMs);
  for (const run of collections) await rt.queues.add('cost-collect', run);
  const count = operations.length + runs.length + collections.length;
  if (count > 0) rt.log.info({ operations: operations.length, syncRuns: runs.length, costRuns: collections.length }, 'reconciler re-enqueued accepted work');
  return count;
}

/** Runs the reconciler at once and every minute; the returned stop waits for a run in progress. */
export function startReconciler(rt: Runtime): () => Promise<void> {
  const tick = () => reconcileOnce(rt).catch((err: unknown) => rt.log.warn({ err }, 'reconciler run failed'));
  const background = new Background();
  background.run(tick);
  background.run(() => recheckFailedHealth(rt)); // once per worker start: what the restart fixed shows at once
  background.every(EVERY_MS, tick);
  return () => background.stop();
}

/**
 * A job whose workers died under it more often than maxStalledCount is failed by BullMQ's stalled-job check, with no
 * 'failed' event in any worker, so no processor ever settled its operation; and its job id still exists, so adding it
 * again is a no-op. Found by test/chaos/worker-crashes.ts. Such a job is retried (its steps are idempotent) while the
 * operation has attempts left, else the operation ends failed with the reason. True when the job was handled here.
 */
async function resumeStalled(rt: Runtime, payload: Omit<OperationJob, 'accountId'>): Promise<boolean> {
  const job = await rt.queues.get('provisioning').getJob(jobOptions('provision', payload).jobId!);
  if (!job || !(await job.isFailed())) return false;
  const settled = await settleStalledOperation(rt.orm.em.fork(), payload.operationId, catalog.provision.options.attempts, job.failedReason);
  if (settled === 'retry') {
    await job.retry('failed');
    rt.log.warn({ operationId: payload.operationId, reason: job.failedReason }, 'resumed an operation whose job BullMQ had failed');
  }
  return true;
}
