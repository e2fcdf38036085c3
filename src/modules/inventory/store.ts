import { hash } from 'node:crypto';
import type { ObservedItem, Scope } from '../../clouds/ports.ts';
import type { Em } from '../../db/orm.ts';
import { isUuid, newId } from '../../shared/ids.ts';
import { sql } from 'kysely';

/** The tag every Skyloft-created object carries (stacks/tags.ts): how inventory links to managed resources. */
export const RESOURCE_ID_TAG = 'skyloft-resource-id';

export interface ScopeRun extends Scope {
  accountId: string;
  credentialId: string;
  provider: string;
  runId: string;
}

/**
 * What says an item changed: sha1 of JSON.stringify([name, type, status, metadata, tags]), the text built from the
 * metadata and tags JSON the upsert sends anyway (the same text, so hashes stored by earlier versions still match).
 */
export const contentHash = (i: ObservedItem, metadataJson: string, tagsJson: string): string =>
  hash('sha1', `[${JSON.stringify(i.name ?? null)},${JSON.stringify(i.type)},${JSON.stringify(i.status)},${metadataJson},${tagsJson}]`);

const managedResourceId = (i: ObservedItem): string | null => {
  const tagged = i.tags[RESOURCE_ID_TAG]?.toLowerCase();
  return tagged && isUuid(tagged) ? tagged : null;
};

/**
 * Set-based inventory writes: one statement per page (unnest of column arrays), not row-by-row ORM writes, so a sync
 * costs about what the cloud listing costs. Rows are sorted by identity so concurrent writers of one scope lock in
 * the same order.
 */
export async function upsertPage(em: Em, scope: ScopeRun, page: ObservedItem[]): Promise<{ added: number; updated: number }> {
  const byKey = new Map<string, ObservedItem>();
  for (const i of page) byKey.set(`${i.region ?? scope.region}\u0000${i.externalId}`, i); // the last one listed counts
  const items = [...byKey.keys()].sort().map((key) => byKey.get(key)!);
  if (items.length === 0) return { added: 0, updated: 0 };
  // Serialized once: the same text is sent and hashed.
  const metadata = items.map((i) => JSON.stringify(i.metadata));
  const tags = items.map((i) => JSON.stringify(i.tags));
  // Kysely's `sql` binds the column arrays as real parameters ($1...), which MikroORM's execute() would inline.
  // Counted from what the upsert returns, without reading the rows first: xmax is 0 only on a row this statement
  // inserted, and the update sets updated_at to now() (this statement's transaction time) only when it changed.
  const { rows } = await sql<{ added: string; updated: string }>`
    with up as (
      insert into inventory_items (id, account_id, credential_id, provider, type, kind, region, external_id, name, status,
                                   metadata, tags, content_hash, managed_resource_id, first_seen_at, last_seen_at, last_run_id)
      select id, ${scope.accountId}, ${scope.credentialId}, ${scope.provider}, type, ${scope.kind}, region, external_id,
             name, status, metadata, tags, content_hash, managed_resource_id, now(), now(), ${scope.runId}
        from unnest(${items.map(() => newId())}::uuid[], ${items.map((i) => i.externalId)}::text[],
                    ${items.map((i) => i.name)}::text[], ${items.map((i) => i.type)}::text[],
                    ${items.map((i) => i.status)}::text[], ${metadata}::jsonb[], ${tags}::jsonb[],
                    ${items.map((i, k) => contentHash(i, metadata[k]!, tags[k]!))}::text[], ${items.map(managedResourceId)}::uuid[],
                    ${items.map((i) => i.region ?? scope.region)}::text[])
          as t(id, external_id, name, type, status, metadata, tags, content_hash, managed_resource_id, region)
      on conflict (credential_id, region, kind, external_id) do update set
        name = excluded.name, type = excluded.type, status = excluded.status, metadata = excluded.metadata,
        tags = excluded.tags, content_hash = excluded.content_hash, managed_resource_id = excluded.managed_resource_id,
        last_seen_at = excluded.last_seen_at, last_run_id = excluded.last_run_id, deleted_at = null,
        updated_at = case when inventory_items.content_hash <> excluded.content_hash or inventory_items.deleted_at is not null
                          then now() else inventory_items.updated_at end
      returning xmax = 0 as inserted, updated_at = now() as changed
    )
    select count(*) filter (where inserted) as added, count(*) filter (where not inserted and changed) as updated from up`.execute(em.getKysely());
  const row = rows[0];
  return { added: Number(row?.added ?? 0), updated: Number(row?.updated ?? 0) };
}

/**
 * After a scope's listing completed to the end: everything of that scope the run did not see is gone from the
 * cloud and gets a tombstone. Never called for a scope that failed or was throttled out: it deletes nothing.
 */
export async function tombstoneUnseen(em: Em, scope: ScopeRun): Promise<number> {
  const res = await em.getConnection().execute(
    `update inventory_items set deleted_at = now(), updated_at = now()
      where credential_id = ? and kind = ? and (region = ? or ? = 'global') and deleted_at is null and last_run_id <> ?`,
    [scope.credentialId, scope.kind, scope.region, scope.region, scope.runId],
    'run',
  );
  return (res as unknown as { affectedRows: number }).affectedRows;
}
