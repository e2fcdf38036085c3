import type { Redis } from 'ioredis';
import type { Em } from '../../db/orm.ts';
import type { Actor } from '../../shared/actor.ts';
import { UnauthorizedError } from '../../shared/errors.ts';
import { ApiKey, User } from './entities.ts';
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
  const key = await em.findOne(ApiKey, { keyHash: hashApiKey(rawKey) });
  const now = Date.now();
  if (!key || key.revokedAt || (key.expiresAt && key.expiresAt.getTime() <= now)) throw new UnauthorizedError();
  const user = await em.findOne(User, { id: key.userId });
  if (!user || !user.active || user.deletedAt) throw new UnauthorizedError();
  return { accountId: key.accountId, userId: user.id, keyId: key.id, role: lowerRole(key.role, user.role) };
}

/**
 * Records last_used_at at most once a minute per key: a Redis SET NX with a one-minute expiry gates the write,
 * so a busy key costs one UPDATE a minute, not one per request.
 */
export async function touchKey(em: Em, redis: Redis, prefix: string, keyId: string): Promise<void> {
  const gate = `${prefix}:key-used:${keyId}`;
  if ((await redis.set(gate, '1', 'PX', 60_000, 'NX')) !== 'OK') return;
  try {
    await em.nativeUpdate(ApiKey, { id: keyId }, { lastUsedAt: new Date() });
  } catch (e) {
    await redis.del(gate); // let the next request try again
    throw e;
  }
}
