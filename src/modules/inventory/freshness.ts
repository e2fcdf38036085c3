import { sql } from 'kysely';
import type { Em } from '../../db/orm.ts';
import type { CredentialFreshness } from '../../shared/metrics.ts';

/**
 * Seconds since the last complete sync (a run that succeeded) of every live credential of every account, for the
 * inventory freshness gauge (a deleted one syncs no more and must not alert forever); a credential that never
 * completed one reports the seconds since it was created, so an alert on "older than N" also fires for a credential
 * that never synced.
 *
 * Cost: one statement, one index probe per credential: the newest succeeded run is found walking
 * sync_runs_account_idx (account_id, id desc) backwards, and ids are UUIDv7 (time-ordered), so it usually sits among
 * the account's first few rows; a credential that never succeeded walks its account's whole (retention-bounded)
 * history. The caller caches the answer (see src/http/plugins/metrics.ts), so scrapes do not multiply it.
 */
export async function credentialFreshness(em: Em): Promise<CredentialFreshness[]> {
  const { rows } = await sql<{ id: string; provider: string; age_seconds: string | number }>`
    select c.id, c.provider, extract(epoch from now() - coalesce(r.finished_at, c.created_at)) as age_seconds
      from credentials c
      left join lateral (
        select finished_at from sync_runs s
         where s.account_id = c.account_id and s.credential_id = c.id and s.status = 'succeeded'
         order by s.id desc limit 1
      ) r on true
     where c.deleted_at is null`.execute(em.getKysely());
  return rows.map((r) => ({ credentialId: r.id, provider: r.provider, ageSeconds: Math.max(0, Number(r.age_seconds)) }));
}
