import { sql, type RawBuilder } from 'kysely';
import type { Em } from '../../db/orm.ts';
import { NotFoundError } from '../../shared/errors.ts';
import { isUuid } from '../../shared/ids.ts';
import { Resource } from '../provisioning/index.ts';
import { addDays, monthStart, today } from './days.ts';

export const GROUP_BY = ['provider', 'service', 'resource', 'day'] as const;
export type GroupBy = (typeof GROUP_BY)[number];

export interface CostQuery {
  from: string;
  to: string;
  groupBy: GroupBy;
  provider?: string;
  credentialId?: string;
  currency?: string;
  /** Most groups answered (resource groups are the largest first). */
  limit: number;
  /** The cost of deleted credentials too (kept as history); otherwise live credentials only. */
  includeDeleted?: boolean;
}

export interface Amount {
  currency: string;
  amount: string;
}

export interface CostAnswer {
  from: string;
  to: string;
  groupBy: GroupBy;
  /** Set when the answer holds one currency (or `currency` was asked for); null when it holds several. */
  currency: string | null;
  total: string | null;
  /** Per currency: amounts in different currencies are never added together. */
  totals: Amount[];
  groups: Array<{ key: string; currency: string; amount: string }>;
  /** More groups than `limit` matched. */
  truncated: boolean;
}

/** Resource keys for cost that belongs to no single resource. */
export const UNATTRIBUTED_KEY = 'unattributed';

/**
 * GET /v1/costs. Provider, service and day questions read the per-day totals (cost_daily, a few rows per day and
 * credential); resource questions read cost_data through its primary key (credential, day). Both are reached
 * through the account's credentials (live ones unless includeDeleted), so another account's rows are never in reach.
 */
export async function queryCosts(em: Em, accountId: string, q: CostQuery): Promise<CostAnswer> {
  const db = em.getKysely();
  const filters = sql`c.credential_id in (select id from credentials where account_id = ${accountId}${q.includeDeleted ? sql`` : sql` and deleted_at is null`})
       and c.usage_date >= ${q.from}::date and c.usage_date < ${q.to}::date
       ${q.provider ? sql`and c.credential_id in (select id from credentials where provider = ${q.provider})` : sql``}
       ${q.credentialId ? sql`and c.credential_id = ${q.credentialId}` : sql``}`;
  const { rows } = q.groupBy === 'resource'
    ? await sql<GroupRow>`
        with by_key as (
          select c.key_id, sum(c.amount) as amount from cost_data c where ${filters} group by c.key_id
        )
        select case when k.resource_id = '' then ${UNATTRIBUTED_KEY} else k.resource_id end as key, k.currency,
               trim_scale(sum(b.amount))::text as amount, count(*) over ()::text as full
          from by_key b join cost_keys k on k.id = b.key_id
         ${q.currency ? sql`where k.currency = ${q.currency}` : sql``}
         group by 1, 2
         order by sum(b.amount) desc, key, currency
         limit ${q.limit}`.execute(db)
    : await sql<GroupRow>`
        select ${DAILY_KEY[q.groupBy]} as key, c.currency, trim_scale(sum(c.amount))::text as amount, count(*) over ()::text as full
          from cost_daily c
         where ${filters} ${q.currency ? sql`and c.currency = ${q.currency}` : sql``}
         group by 1, 2
         order by ${q.groupBy === 'day' ? sql`key, currency` : sql`sum(c.amount) desc, key, currency`}
         limit ${q.limit}`.execute(db);
  const { rows: totals } = await sql<Amount>`
    select c.currency, trim_scale(sum(c.amount))::text as amount from cost_daily c
     where ${filters} ${q.currency ? sql`and c.currency = ${q.currency}` : sql``}
     group by 1 order by 1`.execute(db);
  const single = q.currency ? { currency: q.currency, amount: totals[0]?.amount ?? '0' } : totals.length === 1 ? totals[0]! : null;
  return {
    from: q.from,
    to: q.to,
    groupBy: q.groupBy,
    currency: single?.currency ?? null,
    total: single?.amount ?? null,
    totals,
    groups: rows.map((r) => ({ key: r.key, currency: r.currency, amount: r.amount })),
    truncated: rows.length > 0 && Number(rows[0]!.full) > rows.length,
  };
}

type GroupRow = { key: string; currency: string; amount: string; full: string };

const DAILY_KEY: Record<Exclude<GroupBy, 'resource'>, RawBuilder<unknown>> = {
  provider: sql`c.provider`,
  service: sql`c.service`,
  day: sql`to_char(c.usage_date, 'YYYY-MM-DD')`,
};

export interface ResourceCost {
  resourceId: string;
  /** The cloud ids inventory linked to this resource (its skyloft-resource-id tag). */
  externalIds: string[];
  from: string;
  to: string;
  days: Array<{ date: string; currency: string; amount: string }>;
  monthToDate: Amount[];
}

/**
 * GET /v1/resources/:id/cost: the cost lines of every cloud object inventory linked to the managed resource (by
 * Skyloft's tags), as a daily series over [from, to) and month to date, per currency.
 */
export async function resourceCost(em: Em, accountId: string, id: string, { from, to }: { from: string; to: string }): Promise<ResourceCost> {
  const resource = isUuid(id) ? await em.findOne(Resource, { id, accountId }, { fields: ['id'] }) : null;
  if (!resource) throw new NotFoundError('Resource', id);
  const db = em.getKysely();
  // The cost keys of every cloud object inventory linked to the resource (Azure reports ids in lower case).
  const keys = sql`
    select k.id from cost_keys k
      join inventory_items i on i.credential_id = k.credential_id and k.resource_id in (i.external_id, lower(i.external_id))
     where i.account_id = ${accountId} and i.managed_resource_id = ${resource.id}`;
  const { rows: ids } = await sql<{ external_id: string }>`
    select distinct external_id from inventory_items where account_id = ${accountId} and managed_resource_id = ${resource.id} order by 1`.execute(db);
  const series = (since: string, until: string, byDay: boolean) => sql<{ date: string; currency: string; amount: string }>`
    select ${byDay ? sql`to_char(c.usage_date, 'YYYY-MM-DD')` : sql`''`} as date, k.currency, trim_scale(sum(c.amount))::text as amount
      from cost_data c join cost_keys k on k.id = c.key_id
     where c.credential_id in (select credential_id from inventory_items where account_id = ${accountId} and managed_resource_id = ${resource.id})
       and c.key_id in (${keys})
       and c.usage_date >= ${since}::date and c.usage_date < ${until}::date
     group by 1, 2 order by 1, 2`.execute(db);
  const { rows: days } = await series(from, to, true);
  const { rows: mtd } = await series(monthStart(today()), addDays(today(), 1), false);
  return {
    resourceId: resource.id,
    externalIds: ids.map((r) => r.external_id),
    from,
    to,
    days,
    monthToDate: mtd.map(({ currency, amount }) => ({ currency, amount })),
  };
}
