import type { InventoryReader, Scope } from '../../clouds/ports.ts';
import { providers } from '../../clouds/registry.ts';
import type { Em } from '../../db/orm.ts';
import type { Queues } from '../../queue/catalog.ts';
import type { Actor } from '../../shared/actor.ts';
import { AppError, NotFoundError } from '../../shared/errors.ts';
import { isUuid, newId } from '../../shared/ids.ts';
import type { Logger } from '../../shared/logger.ts';
import { keysetPage, type Page, type PageRequest } from '../../shared/pagination.ts';
import { enqueueOrLeave } from '../../queue/enqueue.ts';
import { Credential, credentialsInScope, historyOf } from '../credentials/index.ts';
import { SyncRun, SyncScope } from './entities.ts';
import { tombstoneUnseen, upsertPage, type ScopeRun } from './store.ts';

/**
 * Inventory sync runs. A request always starts a new run per credential or joins the one in progress (one running
 * run per credential, enforced by a unique index). The run row is committed before Redis is touched; a plan job
 * fans out one scope job per (region, kind) under a finishing parent (a BullMQ flow).
 */
export class SyncService {
  private readonly queues: Queues;
  private readonly log: Logger;

  constructor(queues: Queues, log: Logger) {
    this.queues = queues;
    this.log = log;
  }

  async start(em: Em, actor: Actor, credentialId?: string): Promise<string[]> {
    const runIds: string[] = [];
    for (const credential of await credentialsInScope(em, actor.accountId, credentialId)) {
      runIds.push(await this.startOne(em, actor.accountId, credential.id, actor.userId));
    }
    return runIds;
  }

  /** Starts a run for one credential or returns the one in progress. */
  async startOne(em: Em, accountId: string, credentialId: string, userId: string | null = null): Promise<string> {
    const id = newId();
    const rows = await em.getConnection().execute<{ id: string }[]>(
      `insert into sync_runs (id, account_id, credential_id, status, errors, started_at, created_by)
       values (?, ?, ?, 'running', '[]', now(), ?)
       on conflict (credential_id) where status = 'running' do nothing returning id`,
      [id, accountId, credentialId, userId],
    );
    if (rows.length === 0) {
      const running = await em.findOneOrFail(SyncRun, { credentialId, status: 'running' }, { refresh: true });
      return running.id;
    }
    await enqueueOrLeave(this.queues, this.log, 'inventory-plan', { runId: id, accountId }, 'the reconciler');
    return id;
  }

  /** The plan step: records the run's scopes and enqueues them as one flow. Idempotent (scopes upserted). */
  async plan(em: Em, runId: string, reader: InventoryReader): Promise<Scope[]> {
    const scopes = await reader.scopes();
    const run = await em.findOneOrFail(SyncRun, { id: runId });
    for (const s of scopes) {
      await em.getConnection().execute(
        `insert into sync_scopes (run_id, credential_id, region, kind, status) values (?, ?, ?, ?, 'pending')
         on conflict do nothing`,
        [runId, run.credentialId, s.region, s.kind],
      );
    }
    run.scopesTotal = scopes.length;
    await em.flush();
    await this.queues.addFlow(
      { job: 'inventory-finish', payload: { runId, accountId: run.accountId } },
      scopes.map((s) => ({ job: 'inventory-scope' as const, payload: { runId, region: s.region, kind: s.kind, accountId: run.accountId } })),
    );
    return scopes;
  }

  /**
   * One scope, listed page by page to the end: each page is one set-based upsert, stored while the next one is
   * fetched. Only when the listing completed are unseen items tombstoned. A retry starts the listing over; upserts are
   * idempotent.
   */
  async syncScope(em: Em, runId: string, scope: Scope, reader: InventoryReader, signal?: AbortSignal): Promise<void> {
    const run = await em.findOneOrFail(SyncRun, { id: runId });
    const credential = await em.findOneOrFail(Credential, { id: run.credentialId, accountId: run.accountId });
    const target: ScopeRun = { ...scope, accountId: run.accountId, credentialId: run.credentialId, provider: credential.provider, runId };
    let items = 0;
    let updated = 0;
    // The next page is fetched while this one is stored; at most one page waits for the database.
    let storing = Promise.resolve();
    for await (const page of reader.list(scope, signal)) {
      await storing;
      storing = upsertPage(em, target, page).then((r) => void (updated += r.updated));
      storing.catch(() => {}); // awaited below; a failed fetch meanwhile must not leave it unhandled
      items += page.length;
    }
    await storing;
    const deleted = await tombstoneUnseen(em, target);
    // Counted from the table, not per attempt: a retried scope must not miss what its failed attempt inserted.
    const [{ added } = { added: 0 }] = await em.getConnection().execute<{ added: number }[]>(
      `select count(*)::int as added from inventory_items
        where credential_id = ? and kind = ? and (region = ? or ? = 'global') and first_seen_at >= ?`,
      [run.credentialId, scope.kind, scope.region, scope.region, run.startedAt],
    );
    await this.finishScope(em, runId, scope, { status: 'succeeded', items, added, updated, deleted });
  }

  async failScope(em: Em, runId: string, scope: Scope, error: unknown): Promise<void> {
    const message = error instanceof AppError ? error.message : 'internal error while listing';
    await this.finishScope(em, runId, scope, { status: 'failed', error: message });
  }

  private async finishScope(em: Em, runId: string, scope: Scope, r: { status: 'succeeded' | 'failed'; items?: number; added?: number; updated?: number; deleted?: number; error?: string }) {
    await em.transactional(async (tx) => {
      const updated = await tx.nativeUpdate(
        SyncScope,
        { runId, region: scope.region, kind: scope.kind, status: 'pending' },
        { status: r.status, items: r.items ?? 0, error: r.error ?? null, finishedAt: new Date() },
      );
      if (updated === 0) return; // already settled by an earlier attempt
      await tx.getConnection().execute(
        `update sync_runs set scopes_done = scopes_done + 1, added = added + ?, updated = updated + ?, deleted = deleted + ?,
                errors = case when ?::text is null then errors else errors || jsonb_build_array(jsonb_build_object('region', ?::text, 'kind', ?::text, 'error', ?::text)) end,
                updated_at = now()
          where id = ?`,
        [r.added ?? 0, r.updated ?? 0, r.deleted ?? 0, r.error ?? null, scope.region, scope.kind, r.error ?? null, runId],
        'run',
        tx.getTransactionContext(),
      );
    });
  }

  /** The finishing parent: succeeded when every scope completed, partial when some did, failed when none did. */
  async finish(em: Em, runId: string): Promise<SyncRun> {
    const run = await em.findOneOrFail(SyncRun, { id: runId }, { refresh: true });
    if (run.status !== 'running') return run;
    const scopes = await em.find(SyncScope, { runId });
    const ok = scopes.filter((s) => s.status === 'succeeded').length;
    // Drift first: whoever sees the run finished also sees its effect on the resources.
    await updateDrift(em, run.credentialId);
    run.status = ok === scopes.length ? 'succeeded' : ok === 0 ? 'failed' : 'partial';
    run.finishedAt = new Date();
    await em.flush();
    return run;
  }

  /** A run whose plan step could not list the credential's scopes at all (auth refused, cloud down). */
  async failRun(em: Em, runId: string, error: unknown): Promise<void> {
    const message = error instanceof AppError ? error.message : 'internal error';
    await em.nativeUpdate(SyncRun, { id: runId, status: 'running' }, { status: 'failed', finishedAt: new Date(), errors: [{ region: '*', kind: '*', error: message }] });
  }

  /** Runs of deleted credentials only with include=deleted (history). */
  async listRuns(em: Em, accountId: string, page: PageRequest, credentialId?: string, includeDeleted = false): Promise<Page<SyncRun>> {
    const credential = await historyOf(em, accountId, credentialId, includeDeleted);
    return keysetPage(page, (idBelow, take) =>
      em.find(SyncRun, { accountId, ...credential, ...(idBelow && { id: { $lt: idBelow } }) }, { orderBy: { id: 'desc' }, limit: take }),
    );
  }

  async getRun(em: Em, accountId: string, id: string): Promise<SyncRun> {
    const run = isUuid(id) ? await em.findOne(SyncRun, { id, accountId }) : null;
    if (!run) throw new NotFoundError('Sync run', id);
    return run;
  }
}

/**
 * Drift of the credential's managed resources (neither destroyed nor forgotten), from what inventory saw of their
 * main object (the item of the resource's own type carrying its skyloft-resource-id tag): missing when every such item
 * is tombstoned, drifted when the observed size/type differs from the spec, none otherwise; unchanged while inventory
 * has never seen it. Which fields name the size is each (provider, kind)'s drift keys in the registry
 * (src/clouds/<provider>/descriptor.ts). A scope that failed tombstoned nothing, so a failed listing never makes a
 * resource look missing. Only the account's own items count: tags are written by whoever controls the cloud account,
 * so another tenant can copy a resource's tag.
 */
async function updateDrift(em: Em, credentialId: string): Promise<void> {
  const wanted = driftField('r', 'spec');
  await em.getConnection().execute(
    `update resources r set drift = case
        when not exists (select 1 from inventory_items i where i.account_id = r.account_id and i.managed_resource_id = r.id and i.type = r.type) then r.drift
        when not exists (select 1 from inventory_items i where i.account_id = r.account_id and i.managed_resource_id = r.id and i.type = r.type and i.deleted_at is null) then 'missing'
        when exists (select 1 from inventory_items i
                      where i.account_id = r.account_id and i.managed_resource_id = r.id and i.type = r.type and i.deleted_at is null
                        and ${wanted} is not null
                        and ${driftField('i', 'observed')} is distinct from ${wanted}) then 'drifted'
        else 'none' end,
        updated_at = now()
      where r.credential_id = ? and r.status not in ('destroyed', 'forgotten')`,
    [credentialId],
  );
}

/**
 * The SQL reading the size field of a resource's spec (`r`) or of an item's metadata (`i`) by its provider and kind:
 * the first drift key present, null where the kind has none. Keys are plain field names (the registry checks them).
 */
function driftField(row: 'r' | 'i', side: 'spec' | 'observed'): string {
  const column = row === 'r' ? 'r.spec' : 'i.metadata';
  const branches = providers().flatMap((p) =>
    Object.entries(p.kinds).flatMap(([kind, k]) => {
      const keys = k.drift?.[side] ?? [];
      if (keys.length === 0) return [];
      return [`when ${literal(`${p.id}/${kind}`)} then coalesce(${keys.map((key) => `${column}->>${literal(key)}`).join(', ')})`];
    }),
  );
  return branches.length === 0 ? 'null::text' : `(case ${row}.provider || '/' || ${row}.type ${branches.join(' ')} end)`;
}

const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;
