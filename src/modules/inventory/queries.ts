import { sql, type RawBuilder } from 'kysely';
import type { Em } from '../../db/orm.ts';
import { decodeCursor, encodeCursor, type Page } from '../../shared/pagination.ts';
import { iso } from '../../shared/time.ts';
import { inventoryState, statusesOf, type InventoryState } from './state.ts';

export interface InventoryFilters {
  provider?: string;
  type?: string;
  region?: string;
  status?: string;
  state?: InventoryState;
  credentialId?: string;
  managed?: boolean;
  includeDeleted?: boolean;
}

interface ItemRow {
  id: string;
  provider: string;
  external_id: string;
  name: string | null;
  type: string;
  kind: string;
  region: string;
  status: string;
  metadata: Record<string, unknown>;
  tags: Record<string, string>;
  first_seen_at: Date;
  last_seen_at: Date;
  deleted_at: Date | null;
  credential_id: string;
  resource_id: string | null;
  classification: 'managed' | 'unmanaged' | 'orphaned';
}

/**
 * An item is managed when its Skyloft tag names a live resource of the account, orphaned when the tag names a
 * destroyed or unknown one, unmanaged without the tag or when the tag names a forgotten one (handed back, like
 * `terraform state rm`: it is the cloud account's own again, not a leftover).
 */
const CLASSIFICATION = sql`case when i.managed_resource_id is null or r.status = 'forgotten' then 'unmanaged'
                               when r.id is not null and r.status <> 'destroyed' then 'managed'
                               else 'orphaned' end`;

/**
 * Items of a deleted credential are history: kept, and listed (like tombstones) only with include=deleted. One
 * InitPlan over the account's few credentials, then an array test per row.
 */
const ofLiveCredential = (accountId: string) =>
  sql`i.credential_id = any(array(select c.id from credentials c where c.account_id = ${accountId} and c.deleted_at is null))`;

export async function listInventory(em: Em, accountId: string, f: InventoryFilters, page: { limit: number; cursor?: string }): Promise<Page<ReturnType<typeof itemView>>> {
  const where: RawBuilder<unknown>[] = [sql`i.account_id = ${accountId}`];
  if (!f.includeDeleted) where.push(sql`i.deleted_at is null`, ofLiveCredential(accountId));
  if (f.provider) where.push(sql`i.provider = ${f.provider}`);
  if (f.type) where.push(sql`i.type = ${f.type}`);
  if (f.region) where.push(sql`i.region = ${f.region}`);
  if (f.status) where.push(sql`i.status = ${f.status}`);
  if (f.state) {
    const { statuses, negate } = statusesOf(f.state);
    where.push(negate ? sql`lower(i.status) <> all(${statuses})` : sql`lower(i.status) = any(${statuses})`);
  }
  if (f.credentialId) where.push(sql`i.credential_id = ${f.credentialId}`);
  if (f.managed !== undefined) where.push(f.managed ? sql`${CLASSIFICATION} = 'managed'` : sql`${CLASSIFICATION} <> 'managed'`);
  if (page.cursor) where.push(sql`i.id < ${decodeCursor(page.cursor)}`);
  const { rows } = await sql<ItemRow>`
    select i.id, i.provider, i.external_id, i.name, i.type, i.kind, i.region, i.status, i.metadata, i.tags,
           i.first_seen_at, i.last_seen_at, i.deleted_at, i.credential_id,
           case when r.status not in ('destroyed', 'forgotten') then r.id end as resource_id, ${CLASSIFICATION} as classification
      from inventory_items i
      left join resources r on r.id = i.managed_resource_id and r.account_id = i.account_id
     where ${sql.join(where, sql` and `)}
     order by i.id desc
     limit ${page.limit + 1}`.execute(em.getKysely());
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  return { items: items.map(itemView), nextCursor: rows.length > page.limit && last ? encodeCursor(last.id) : null };
}

function itemView(r: ItemRow) {
  return {
    id: r.id,
    provider: r.provider,
    externalId: r.external_id,
    name: r.name,
    type: r.type,
    kind: r.kind,
    region: r.region,
    status: r.status,
    state: inventoryState(r.status),
    metadata: r.metadata,
    tags: r.tags,
    credentialId: r.credential_id,
    firstSeenAt: iso(r.first_seen_at),
    lastSeenAt: iso(r.last_seen_at),
    deletedAt: iso(r.deleted_at),
    resourceId: r.resource_id,
    classification: r.classification,
  };
}

/** Counts of live items (not tombstoned, of live credentials) by provider, type and status. */
export async function inventoryCounts(em: Em, accountId: string) {
  const { rows } = await sql<{ provider: string; type: string; status: string; count: string }>`
    select provider, type, status, count(*) as count from inventory_items i
     where account_id = ${accountId} and deleted_at is null and ${ofLiveCredential(accountId)}
     group by provider, type, status order by provider, type, status`.execute(em.getKysely());
  return rows.map((r) => ({ provider: r.provider, type: r.type, status: r.status, count: Number(r.count) }));
}

/**
 * Freshness of every (live credential, region) the account's syncs have listed: when its last complete listing
 * finished, and `stale` when a later listing of it failed (its items were kept as they were, nothing tombstoned).
 */
export async function freshness(em: Em, accountId: string) {
  const { rows } = await sql<{ credential_id: string; region: string; last_complete_sync_at: Date | null; last_failed_at: Date | null }>`
    select s.credential_id, s.region,
           max(s.finished_at) filter (where s.status = 'succeeded') as last_complete_sync_at,
           max(s.finished_at) filter (where s.status = 'failed') as last_failed_at
      from sync_scopes s join credentials c on c.id = s.credential_id
     where c.account_id = ${accountId} and c.deleted_at is null and s.status in ('succeeded', 'failed')
     group by s.credential_id, s.region order by s.credential_id, s.region`.execute(em.getKysely());
  return rows.map((r) => ({
    credentialId: r.credential_id,
    region: r.region,
    lastCompleteSyncAt: iso(r.last_complete_sync_at),
    stale: r.last_failed_at !== null && (r.last_complete_sync_at === null || r.last_failed_at > r.last_complete_sync_at),
  }));
}
