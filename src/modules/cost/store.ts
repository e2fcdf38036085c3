import { sql } from 'kysely';
import type { CostLine } from '../../clouds/ports.ts';
import type { Em } from '../../db/orm.ts';

/** Where a collection's lines go: the credential (which fixes account and provider) and this attempt's id. */
export interface CostTarget {
  accountId: string;
  credentialId: string;
  provider: string;
  collectionId: string;
}

/** Cost not attributable to one resource: '' in the key, so it still collides on re-collection. */
export const UNATTRIBUTED = '';

/**
 * One page of lines as one set-based upsert (unnest of column arrays). Lines of one key within a collection add up
 * (a cloud may split a day's service cost over several rows); a line from an earlier collection is replaced, so
 * re-collecting a restated day never doubles it. Sorted by key so concurrent writers lock rows in the same order.
 */
export async function upsertLines(em: Em, t: CostTarget, lines: CostLine[]): Promise<void> {
  if (lines.length === 0) return;
  const sorted = [...lines].sort((a, b) => cmp(a.date, b.date) || cmp(a.billingAccount, b.billingAccount) || cmp(a.service, b.service) || cmp(a.resourceId ?? '', b.resourceId ?? ''));
  await sql`
    insert into cost_data as c (account_id, credential_id, provider, usage_date, billing_period, billing_account, service,
                                resource_id, currency, amount, collection_id)
    select ${t.accountId}, ${t.credentialId}, ${t.provider}, usage_date, to_char(usage_date, 'YYYY-MM'), billing_account, service,
           resource_id, currency, sum(amount), ${t.collectionId}
      from unnest(${sorted.map((l) => l.date)}::date[], ${sorted.map((l) => l.billingAccount)}::text[],
                  ${sorted.map((l) => l.service)}::text[], ${sorted.map((l) => l.resourceId ?? UNATTRIBUTED)}::text[],
                  ${sorted.map((l) => l.currency)}::text[], ${sorted.map((l) => l.amount)}::numeric[])
        as l(usage_date, billing_account, service, resource_id, currency, amount)
     group by usage_date, billing_account, service, resource_id, currency
     order by usage_date, billing_account, service, resource_id, currency
    on conflict (credential_id, usage_date, billing_account, service, resource_id, currency) do update set
      amount = case when c.collection_id = excluded.collection_id then c.amount + excluded.amount else excluded.amount end,
      collection_id = excluded.collection_id,
      updated_at = now()`.execute(em.getKysely());
}

/**
 * After a complete collection of [from, to): drops the lines of those days an earlier collection wrote and this one
 * did not see (the cloud restated them away), and rebuilds the per-day totals of those days. One transaction, so a
 * reader sees the days before or after, never between.
 */
export async function settleDays(em: Em, t: CostTarget, from: string, to: string): Promise<void> {
  await em.transactional(async (tx) => {
    const db = tx.getKysely();
    await sql`delete from cost_data where credential_id = ${t.credentialId} and usage_date >= ${from}::date
                 and usage_date < ${to}::date and collection_id <> ${t.collectionId}`.execute(db);
    await sql`delete from cost_daily where credential_id = ${t.credentialId} and usage_date >= ${from}::date and usage_date < ${to}::date`.execute(db);
    await sql`
      insert into cost_daily (account_id, credential_id, provider, usage_date, billing_period, service, currency, amount)
      select account_id, credential_id, provider, usage_date, billing_period, service, currency, sum(amount)
        from cost_data
       where credential_id = ${t.credentialId} and usage_date >= ${from}::date and usage_date < ${to}::date
       group by account_id, credential_id, provider, usage_date, billing_period, service, currency`.execute(db);
  });
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
