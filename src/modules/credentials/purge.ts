import type { Em } from '../../db/orm.ts';

/** Rows one statement deletes at most: each batch is its own short transaction, so a purge never holds long locks. */
const BATCH = 5_000;
/** A sync run takes its scopes with it (one per region and kind): fewer runs per statement. */
const RUN_BATCH = 50;

export interface PurgedHistory {
  inventoryItems: number;
  syncRuns: number;
  costLines: number;
  costDays: number;
  costKeys: number;
  costRuns: number;
  healthChecks: number;
}

/**
 * A deleted credential's history, removed table by table in batches through each table's credential index (a
 * million inventory items is 200 short statements, not one transaction holding a million row locks). Cost lines go
 * before their keys. The credential row itself is deleted afterwards by the caller; its cascades then find little or
 * nothing. A purge stopped midway (a crash) is simply asked for again: the credential is already deleted, and the purge
 * goes on with what is left.
 */
export async function purgeHistory(em: Em, credential: { id: string; accountId: string }): Promise<PurgedHistory> {
  const conn = em.getConnection();
  const loop = async (sql: string, params: unknown[], batch = BATCH): Promise<number> => {
    let total = 0;
    for (;;) {
      const res = (await conn.execute(sql, [...params, batch], 'run')) as unknown as { affectedRows: number };
      total += res.affectedRows;
      if (res.affectedRows < batch) return total;
    }
  };
  const byCtid = (table: string) =>
    loop(`delete from ${table} where ctid = any(array(select ctid from ${table} where credential_id = ? limit ?))`, [credential.id]);
  return {
    inventoryItems: await byCtid('inventory_items'),
    syncRuns: await loop(`delete from sync_runs where id = any(array(
      select id from sync_runs where account_id = ? and credential_id = ? limit ?))`, [credential.accountId, credential.id], RUN_BATCH),
    costLines: await byCtid('cost_data'),
    costDays: await byCtid('cost_daily'),
    costKeys: await byCtid('cost_keys'),
    costRuns: await byCtid('cost_runs'),
    healthChecks: await byCtid('health_checks'),
  };
}
