import type { Runtime } from '../src/runtime.ts';

const EVERY_MS = 60_000;

/**
 * The database is the source of truth for accepted work: every minute (and at start-up) each operation that should
 * have a job gets one again. Job ids are deterministic, so an operation whose job still exists is not doubled:
 * - queued operations a minute old (accepted while Redis was down, or lost with a Redis that kept nothing);
 * - running operations whose worker lease lapsed two minutes ago (the worker died and its job went with Redis);
 * - sync runs that never got their plan job, cost runs that never got (or lost) their collection job.
 */
export async function reconcileOnce(rt: Runtime, olderThanMs = 60_000): Promise<number> {
  const rows = await rt.orm.em.getConnection().execute<{ id: string; resource_id: string; step: string }[]>(
    `select o.id, o.resource_id, o.step from operations o
      where (o.status = 'queued' and o.updated_at < now() - (? * interval '1 millisecond'))
         or (o.status = 'running' and o.updated_at < now() - (? * 2 * interval '1 millisecond')
             and not exists (select 1 from state_locks l where l.operation_id = o.id and l.expires_at > now()))
      order by o.id limit 1000`,
    [olderThanMs, olderThanMs],
  );
  for (const row of rows) {
    await rt.queues.add('provision', { operationId: row.id, resourceId: row.resource_id, phase: row.step === 'plan' ? 'plan' : 'apply' });
  }
  // Sync runs accepted while Redis was down never got their plan job.
  const runs = await rt.orm.em.getConnection().execute<{ id: string }[]>(
    `select id from sync_runs where status = 'running' and scopes_total = 0 and started_at < now() - (? * interval '1 millisecond') limit 1000`,
    [olderThanMs],
  );
  for (const run of runs) await rt.queues.add('inventory-plan', { runId: run.id });
  // Cost runs accepted while Redis was down, or whose job Redis lost (a running collection takes minutes, not an hour).
  const collections = await rt.orm.em.getConnection().execute<{ id: string }[]>(
    `select id from cost_runs where (status = 'queued' and created_at < now() - (? * interval '1 millisecond'))
        or (status = 'running' and started_at < now() - interval '1 hour') limit 1000`,
    [olderThanMs],
  );
  for (const run of collections) await rt.queues.add('cost-collect', { runId: run.id });
  const count = rows.length + runs.length + collections.length;
  if (count > 0) rt.log.info({ operations: rows.length, syncRuns: runs.length, costRuns: collections.length }, 'reconciler re-enqueued accepted work');
  return count;
}

export function startReconciler(rt: Runtime): () => void {
  const tick = () => reconcileOnce(rt).catch((err: unknown) => rt.log.warn({ err }, 'reconciler run failed'));
  void tick();
  const timer = setInterval(tick, EVERY_MS);
  return () => clearInterval(timer);
}
