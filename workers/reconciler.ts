import { Operation, Resource } from '../src/modules/provisioning/entities.ts';
import { catalog, jobOptions } from '../src/queue/catalog.ts';
import type { Runtime } from '../src/runtime.ts';
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
  const rows = await rt.orm.em.getConnection().execute<{ id: string; account_id: string; resource_id: string; step: string }[]>(
    `select o.id, o.account_id, o.resource_id, o.step from operations o
      where (o.status = 'queued' and o.updated_at < now() - (? * interval '1 millisecond'))
         or (o.status = 'running' and o.updated_at < now() - (? * 2 * interval '1 millisecond')
             and not exists (select 1 from state_locks l where l.operation_id = o.id and l.expires_at > now()))
      order by o.id limit 1000`,
    [olderThanMs, olderThanMs],
  );
  for (const row of rows) {
    const payload = { operationId: row.id, resourceId: row.resource_id, phase: row.step === 'plan' ? ('plan' as const) : ('apply' as const) };
    if (!(await resumeStalled(rt, payload))) await rt.queues.add('provision', { ...payload, accountId: row.account_id });
  }
  // Sync runs accepted while Redis was down never got their plan job.
  const runs = await rt.orm.em.getConnection().execute<{ id: string; account_id: string }[]>(
    `select id, account_id from sync_runs where status = 'running' and scopes_total = 0 and started_at < now() - (? * interval '1 millisecond') limit 1000`,
    [olderThanMs],
  );
  for (const run of runs) await rt.queues.add('inventory-plan', { runId: run.id, accountId: run.account_id });
  // Cost runs accepted while Redis was down, or whose job Redis lost (a running collection takes minutes, not an hour).
  const collections = await rt.orm.em.getConnection().execute<{ id: string; account_id: string }[]>(
    `select id, account_id from cost_runs where (status = 'queued' and created_at < now() - (? * interval '1 millisecond'))
        or (status = 'running' and started_at < now() - interval '1 hour') limit 1000`,
    [olderThanMs],
  );
  for (const run of collections) await rt.queues.add('cost-collect', { runId: run.id, accountId: run.account_id });
  const count = rows.length + runs.length + collections.length;
  if (count > 0) rt.log.info({ operations: rows.length, syncRuns: runs.length, costRuns: collections.length }, 'reconciler re-enqueued accepted work');
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
async function resumeStalled(rt: Runtime, payload: { operationId: string; resourceId: string; phase: 'plan' | 'apply' }): Promise<boolean> {
  const job = await rt.queues.get('provisioning').getJob(jobOptions('provision', payload).jobId!);
  if (!job || !(await job.isFailed())) return false;
  const em = rt.orm.em.fork();
  const op = await em.findOne(Operation, { id: payload.operationId });
  if (op && op.attempts < catalog.provision.options.attempts) {
    await job.retry('failed');
    rt.log.warn({ operationId: op.id, reason: job.failedReason }, 'resumed an operation whose job BullMQ had failed');
    return true;
  }
  if (op) {
    Object.assign(op, { status: 'failed', step: 'done', finishedAt: new Date(), error: `Its worker stopped ${op.attempts} times while running it (${job.failedReason}); the last saved state is kept: request the change again` });
    const resource = await em.findOne(Resource, { id: op.resourceId, accountId: op.accountId });
    if (resource) resource.status = 'failed';
    await em.flush();
  }
  return true;
}
