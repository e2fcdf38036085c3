import { repeatInBatches } from '../../db/batches.ts';
import type { Em } from '../../db/orm.ts';

// The inventory's history (inventory_items, sync_runs and their scopes), deleted only here.

/** Rows one statement deletes at most. */
const BATCH = 5_000;
/** A sync run takes its scopes with it (one per region and kind): fewer runs per statement. */
const RUN_BATCH = 50;

/** A deleted credential's inventory and sync runs, through each table's credential index. */
export async function purgeCredentialInventory(em: Em, credential: { id: string; accountId: string }): Promise<{ inventoryItems: number; syncRuns: number }> {
  return {
    inventoryItems: await repeatInBatches(em, `delete from inventory_items where ctid = any(array(
      select ctid from inventory_items where credential_id = ? limit ?))`, [credential.id], BATCH),
    syncRuns: await repeatInBatches(em, `delete from sync_runs where id = any(array(
      select id from sync_runs where account_id = ? and credential_id = ? limit ?))`, [credential.accountId, credential.id], RUN_BATCH),
  };
}

/** Tombstoned items deleted from the cloud before `cutoff`, and finished sync runs older than it but each credential's newest. */
export async function pruneInventory(em: Em, cutoff: Date): Promise<{ tombstones: number; syncRuns: number }> {
  return {
    tombstones: await repeatInBatches(em, `delete from inventory_items where ctid = any(array(
      select ctid from inventory_items where deleted_at < ? limit ?))`, [cutoff], BATCH),
    syncRuns: await repeatInBatches(em, `delete from sync_runs where id = any(array(
      select r.id from sync_runs r where r.status <> 'running' and r.finished_at < ?
         and r.id is distinct from (select n.id from sync_runs n where n.credential_id = r.credential_id and n.status = 'succeeded' order by n.id desc limit 1)
       limit ?))`, [cutoff], BATCH),
  };
}
