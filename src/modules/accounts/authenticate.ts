import type { Em } from '../../db/orm.ts';
import type { Actor } from '../../shared/actor.ts';
import { UnauthorizedError } from '../../shared/errors.ts';
import { sql, type RawBuilder } from 'kysely';
import { ApiKey, type RoleName } from './entities.ts';
import { hashApiKey, isWellFormedApiKey } from './keys.ts';
import { lowerRole } from './roles.ts';

export interface Principal {
  accountId: string;
  userId: string;
  keyId: string;
  role: Actor['role'];
}

/**
 * Resolves a raw API key to its principal, or throws 401 for a missing, malformed, unknown, expired or revoked key
 * and for a deactivated user. The same message for every case: nothing tells an attacker which one it was.
 */
export async function authenticate(em: Em, rawKey: string | undefined): Promise<Principal> {
  if (!rawKey || !isWellFormedApiKey(rawKey)) throw new UnauthorizedError();
  const found = await findPrincipal(em, sql`k.key_hash = ${hashApiKey(rawKey)}`);
  if (!found) throw new UnauthorizedError();
  return found;
}

/**
 * The principal of a key that is still valid (not revoked, not expired, its user active), else undefined: what a
 * dashboard session, made from a key, re-checks on every request so revoking the key or the user ends it.
 */
export async function principalOfKey(em: Em, keyId: string): Promise<Principal | undefined> {
  return findPrincipal(em, sql`k.id = ${keyId}`);
}

/** The one definition of "a usable key": one indexed query (the key's unique index, then the user's primary key). */
async function findPrincipal(em: Em, match: RawBuilder<unknown>): Promise<Principal | undefined> {
  const { rows } = await sql<{ id: string; account_id: string; key_role: RoleName; user_id: string; user_role: RoleName }>`
    select k.id, k.account_id, k.role as key_role, u.id as user_id, u.role as user_role
      from api_keys k join users u on u.id = k.user_id
     where ${match} and k.revoked_at is null and (k.expires_at is null or k.expires_at > now())
       and u.active and u.deleted_at is null`.execute(em.getKysely());
  const found = rows[0];
  if (!found) return undefined;
  return { accountId: found.account_id, userId: found.user_id, keyId: found.id, role: lowerRole(found.key_role, found.user_role) };
}

export async function recordKeyUse(em: Em, keyId: string): Promise<void> {
  await em.nativeUpdate(ApiKey, { id: keyId }, { lastUsedAt: new Date() });
}
