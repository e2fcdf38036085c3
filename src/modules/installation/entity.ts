import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { timestamps } from '../../db/columns.ts';

/** A key of the people who run the installation (migration 0011). Only its SHA-256 hash and a display prefix are kept. */
export const InstallationKey = defineEntity({
  name: 'InstallationKey',
  tableName: 'installation_keys',
  properties: {
    id: p.uuid().primary(),
    name: p.string(),
    keyHash: p.string(),
    prefix: p.string(),
    lastUsedAt: p.datetime().columnType('timestamptz').nullable(),
    revokedAt: p.datetime().columnType('timestamptz').nullable(),
    ...timestamps,
  },
});
export type InstallationKey = InferEntity<typeof InstallationKey>;
