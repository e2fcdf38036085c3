import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { timestamps } from '../../db/columns.ts';

export const ACTOR_KINDS = ['user', 'cli', 'system'] as const;

/** Append-only: the database refuses UPDATE and DELETE on this table (migration 0001). */
export const AuditLog = defineEntity({
  name: 'AuditLog',
  tableName: 'audit_logs',
  properties: {
    id: p.uuid().primary(),
    accountId: p.string(),
    actorUserId: p.uuid().nullable(),
    actorKeyId: p.uuid().nullable(),
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
