import { repeatInBatches } from '../../db/batches.ts';
import type { Em } from '../../db/orm.ts';
import { pruneInventory } from '../inventory/index.ts';

/** Rows one statement deletes at most, so pruning never holds long locks on a busy table. */
const BATCH = 5_000;

export interface Pruned {
  tombstones: number;
  syncRuns: number;
  costRuns: number;
  healthChecks: number;
  operationLogs: number;
}

/**
 * History older than `days` goes: tombstoned inventory items (deleted from the cloud that long ago), finished sync and
 * cost runs (each credential keeps its newest of each, so freshness and billing access stay known), health checks,
 * and the text logs of finished operations (the operation rows stay: they are the resource's history). Batches of
 * 5,000 rows per statement until none is left.
 */
export async function pruneHistory(em: Em, days: number): Promise<Pruned> {
  const cutoff = new Date(Date.now() - days * 86_400_000);
  const loop = (sql: string): Promise<number> => repeatInBatches(em, sql, [cutoff], BATCH);
  const { tombstones, syncRuns } = await pruneInventory(em, cutoff);
  return {
    tombstones,
    syncRuns,
    costRuns: await loop(`delete from cost_runs where id = any(array(
      select r.id from cost_runs r where r.status in ('succeeded', 'failed') and r.finished_at < ?
         and r.id is distinct from (select n.id from cost_runs n where n.credential_id = r.credential_id and n.status in ('succeeded', 'failed') order by n.id desc limit 1)
       limit ?))`),
    healthChecks: await loop(`delete from health_checks where id = any(array(
      select id from health_checks where checked_at < ? limit ?))`),
    operationLogs: await loop(`update operations set log = '', updated_at = now() where id = any(array(
      select id from operations where finished_at < ? and log <> '' limit ?))`),
  };
}
