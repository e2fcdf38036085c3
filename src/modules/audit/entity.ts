import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { timestamps } from '../../db/columns.ts';

export const ACTOR_KINDS = ['user', 'cli', 'system', 'installation'] as const;

/**
 * Append-only: the database refuses UPDATE and DELETE on this table (migration 0001). A row of an installation-wide
 * action (an installation key pausing a queue, the CLI making an installation key) has no account (migration 0011).
 */
export const AuditLog = defineEntity({
  name: 'AuditLog',
  tableName: 'audit_logs',
  properties: {
    id: p.uuid().primary(),
    accountId: p.string().nullable(),
    actorUserId: p.uuid().nullable(),
    actorKeyId: p.uuid().nullable(),
    actorInstallationKeyId: p.uuid().nullable(),
    actorKind: p.enum([...ACTOR_KINDS]),
    action: p.string(),
    entityType: p.string(),
    entityId: p.string().nullable(),
    before: p.json<Record<string, unknown>>().nullable(),
    after: p.json<Record<string, unknown>>().nullable(),
    ip: p.string().nullable(),
    userAgent: p.text().nullable(),
    requestId: p.string().nullable(),
    ...timestamps,
  },
});
export type AuditLog = InferEntity<typeof AuditLog>;
