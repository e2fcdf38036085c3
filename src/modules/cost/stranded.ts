import type { Em } from '../../db/orm.ts';

/**
 * Cost runs accepted while Redis was down, or whose job Redis lost (a running collection takes minutes, not an
 * hour): the reconciler enqueues their collection again.
 */
export async function strandedCostRuns(em: Em, olderThanMs: number): Promise<{ runId: string; accountId: string }[]> {
  const rows = await em.getConnection().execute<{ id: string; account_id: string }[]>(
    `select id, account_id from cost_runs where (status = 'queued' and created_at < now() - (? * interval '1 millisecond'))
        or (status = 'running' and started_at < now() - interval '1 hour') limit 1000`,
    [olderThanMs],
  );
  return rows.map((row) => ({ runId: row.id, accountId: row.account_id }));
}
