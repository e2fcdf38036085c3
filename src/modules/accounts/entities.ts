import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { authorship, timestamps } from '../../db/columns.ts';

export const ROLE_NAMES = ['admin', 'operator', 'viewer'] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

export const Account = defineEntity({
  name: 'Account',
  tableName: 'accounts',
  properties: {
    id: p.string().primary(),
    name: p.string(),
    ...timestamps,
  },
});
export type Account = InferEntity<typeof Account>;

export const User = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: {
    id: p.uuid().primary(),
    accountId: p.string(),
    email: p.string(),
    role: p.enum([...ROLE_NAMES]),
    active: p.boolean().default(true),
    deletedAt: p.datetime().columnType('timestamptz').nullable(),
    ...timestamps,
    ...authorship,
  },
});
export type User = InferEntity<typeof User>;

export const ApiKey = defineEntity({
  name: 'ApiKey',
  tableName: 'api_keys',
  properties: {
    id: p.uuid().primary(),
    accountId: p.string(),
    userId: p.uuid(),
    name: p.string(),
    role: p.enum([...ROLE_NAMES]),
    keyHash: p.string(),
    prefix: p.string(),
    expiresAt: p.datetime().columnType('timestamptz').nullable(),
    revokedAt: p.datetime().columnType('timestamptz').nullable(),
    lastUsedAt: p.datetime().columnType('timestamptz').nullable(),
    ...timestamps,
    ...authorship,
  },
});
export type ApiKey = InferEntity<typeof ApiKey>;
