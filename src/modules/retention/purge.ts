import type { Em } from '../../db/orm.ts';
import { repeatInBatches } from '../../db/batches.ts';
import type { CredentialUsage, PurgedHistory } from '../credentials/index.ts';
import { purgeCredentialInventory } from '../inventory/index.ts';
import { liveResourcesOf } from '../provisioning/index.ts';

/** Rows one statement deletes at most: each batch is its own short transaction, so a purge never holds long locks. */
const BATCH = 5_000;

/**
 * A deleted credential's history, removed table by table in batches through each table's credential index (a
 * million inventory items is 200 short statements, not one transaction holding a million row locks). Cost lines go
 * before their keys. The credential row itself is deleted afterwards by the caller; its cascades then find little or
 * nothing. A purge stopped midway (a crash) is simply asked for again: the credential is already deleted, and the purge
 * goes on with what is left.
 */
export async function purgeHistory(em: Em, credential: { id: string; accountId: string }): Promise<PurgedHistory> {
  const byCtid = (table: string) => repeatInBatches(em,
    `delete from ${table} where ctid = any(array(select ctid from ${table} where credential_id = ? limit ?))`, [credential.id], BATCH);
  return {
    ...(await purgeCredentialInventory(em, credential)),
    costLines: await byCtid('cost_data'),
    costDays: await byCtid('cost_daily'),
    costKeys: await byCtid('cost_keys'),
    costRuns: await byCtid('cost_runs'),
    healthChecks: await byCtid('health_checks'),
  };
}

/** What the credentials module asks of the modules that hold a credential's resources and history. */
export const credentialUsage: CredentialUsage = { liveResources: liveResourcesOf, purgeHistory };

