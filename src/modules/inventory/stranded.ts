import type { Em } from '../../db/orm.ts';

/** Sync runs accepted while Redis was down, which never got their plan job (the reconciler enqueues it). */
export async function syncRunsWithoutPlan(em: Em, olderThanMs: number): Promise<{ runId: string; accountId: string }[]> {
  const rows = await em.getConnection().execute<{ id: string; account_id: string }[]>(
    `select id, account_id from sync_runs where status = 'running' and scopes_total = 0 and started_at < now() - (? * interval '1 millisecond') limit 1000`,
    [olderThanMs],
  );
  return rows.map((row) => ({ runId: row.id, accountId: row.account_id }));
}
