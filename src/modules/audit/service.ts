import type { Em } from '../../db/orm.ts';
import type { Actor } from '../../shared/actor.ts';
import { newId } from '../../shared/ids.ts';
import { keysetPage, type Page, type PageRequest } from '../../shared/pagination.ts';
import { AuditLog } from './entity.ts';

export interface AuditEntry {
  action: string;
  entityType: string;
  entityId?: string;
  /** Snapshots built from public views only: a secret never reaches the audit table. */
  before?: object | null;
  after?: object | null;
}

/** Queues an audit row on `em`; it is written by the same flush (and transaction) as the change it describes. */
export function recordAudit(em: Em, actor: Actor, entry: AuditEntry): void {
  createRow(em, { accountId: actor.accountId, actorUserId: actor.userId, actorKeyId: actor.keyId, actorInstallationKeyId: null, actorKind: actor.kind }, actor, entry);
}

/** Who acts for the installation: an installation key (dashboard, /metrics), or the admin CLI. */
export interface InstallationActor {
  kind: 'installation' | 'cli';
  installationKeyId: string | null;
  ip?: string;
  userAgent?: string;
  requestId?: string;
}

/**
 * Queues an audit row of the installation's own people. It lands in `accountId`'s log when the action touched that
 * account's data (a job of the account, acted on from the dashboard), so the account sees what was done to it; an
 * installation-wide action (a queue paused, a key made) has no account and is read by no account route.
 */
export function recordInstallationAudit(em: Em, actor: InstallationActor, accountId: string | null, entry: AuditEntry): void {
  createRow(em, { accountId, actorUserId: null, actorKeyId: null, actorInstallationKeyId: actor.installationKeyId, actorKind: actor.kind }, actor, entry);
}

type Who = Pick<AuditLog, 'accountId' | 'actorUserId' | 'actorKeyId' | 'actorInstallationKeyId' | 'actorKind'>;

function createRow(em: Em, who: Who, request: { ip?: string; userAgent?: string; requestId?: string }, entry: AuditEntry): void {
  em.create(AuditLog, {
    id: newId(),
    ...who,
    action: entry.action,
    entityType: entry.entityType,
    entityId: entry.entityId ?? null,
    before: (entry.before ?? null) as Record<string, unknown> | null,
    after: (entry.after ?? null) as Record<string, unknown> | null,
    ip: request.ip ?? null,
    userAgent: request.userAgent ?? null,
    requestId: request.requestId ?? null,
  });
}

export interface AuditFilters {
  actor?: string;
  action?: string;
  entity?: string;
  entityId?: string;
}

export async function listAuditEvents(
  em: Em,
  accountId: string,
  filters: AuditFilters,
  page: PageRequest,
): Promise<Page<AuditLog>> {
  return keysetPage(page, (idBelow, take) =>
    em.find(
      AuditLog,
      {
        accountId,
        ...(idBelow && { id: { $lt: idBelow } }),
        ...(filters.actor && { $or: [{ actorUserId: filters.actor }, { actorKeyId: filters.actor }] }),
        ...(filters.action && { action: filters.action }),
        ...(filters.entity && { entityType: filters.entity }),
        ...(filters.entityId && { entityId: filters.entityId }),
      },
      { orderBy: { id: 'desc' }, limit: take },
    ),
  );
}
