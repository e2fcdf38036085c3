import type { Em } from '../../db/orm.ts';
import { lockRows } from '../../db/row-locks.ts';
import type { Actor } from '../../shared/actor.ts';
import { ConflictError, ForbiddenError, NotFoundError, UnprocessableError, ValidationError } from '../../shared/errors.ts';
import { isUuid, newId } from '../../shared/ids.ts';
import { iso } from '../../shared/time.ts';
import { keysetPage, type Page, type PageRequest } from '../../shared/pagination.ts';
import { recordAudit } from '../audit/index.ts';
import { ApiKey, User, type RoleName } from './entities.ts';
import { displayPrefix, generateApiKey, hashApiKey } from './keys.ts';
import { roleAtLeast } from './roles.ts';

export const MAX_ACTIVE_KEYS_PER_USER = 5;

export interface NewApiKey {
  name: string;
  role?: RoleName;
  expiresAt?: Date;
}

export type ApiKeyView = ReturnType<typeof apiKeyView>;

export function apiKeyView(k: ApiKey) {
  return {
    id: k.id,
    userId: k.userId,
    name: k.name,
    role: k.role,
    prefix: k.prefix,
    expiresAt: iso(k.expiresAt),
    revokedAt: iso(k.revokedAt),
    lastUsedAt: iso(k.lastUsedAt),
    createdAt: iso(k.createdAt),
  };
}

/**
 * Issues a key for `user`. Must run inside a transaction: the user row is locked so concurrent requests cannot
 * both pass the five-active-keys check.
 */
export async function issueApiKey(
  em: Em,
  actor: Actor,
  user: User,
  input: NewApiKey,
): Promise<{ apiKey: ApiKey; key: string }> {
  const role = input.role ?? user.role;
  if (!roleAtLeast(user.role, role)) {
    throw new ForbiddenError(`A key cannot hold role "${role}" above its user's role "${user.role}"`);
  }
  if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) {
    throw new ValidationError('expiresAt must be in the future', [{ path: 'expiresAt', message: 'in the past' }]);
  }
  await lockRows(em, 'users', 'id', user.id);
  const active = await em.count(ApiKey, {
    userId: user.id,
    revokedAt: null,
    $or: [{ expiresAt: null }, { expiresAt: { $gt: new Date() } }],
  });
  if (active >= MAX_ACTIVE_KEYS_PER_USER) {
    throw new ConflictError(`A user may hold at most ${MAX_ACTIVE_KEYS_PER_USER} active API keys; revoke one first`);
  }
  const duplicate = await em.count(ApiKey, { userId: user.id, name: input.name, revokedAt: null });
  if (duplicate > 0) throw new ConflictError(`This user already has an active API key named "${input.name}"`);

  const key = generateApiKey();
  const apiKey = em.create(ApiKey, {
    id: newId(),
    accountId: user.accountId,
    userId: user.id,
    name: input.name,
    role,
    keyHash: hashApiKey(key),
    prefix: displayPrefix(key),
    expiresAt: input.expiresAt ?? null,
    revokedAt: null,
    lastUsedAt: null,
    createdBy: actor.userId,
    updatedBy: actor.userId,
  });
  recordAudit(em, actor, { action: 'api_key.create', entityType: 'api_key', entityId: apiKey.id, after: apiKeyView(apiKey) });
  return { apiKey, key };
}

export async function createOwnApiKey(em: Em, actor: Actor, input: NewApiKey) {
  return em.transactional(async (tx) => {
    const user = await tx.findOneOrFail(User, { id: actor.userId!, accountId: actor.accountId });
    return issueApiKey(tx, actor, user, input);
  });
}

/**
 * An admin issues a key for a user of the account (one whose keys deactivation revoked, say): shown once, audited,
 * within the same five-active-keys limit. A deactivated or deleted user holds no keys (409); the key's role may not
 * exceed the user's (422: raise the user's role first).
 */
export async function issueApiKeyFor(em: Em, actor: Actor, userId: string, input: NewApiKey) {
  return em.transactional(async (tx) => {
    const user = isUuid(userId) ? await tx.findOne(User, { id: userId, accountId: actor.accountId }) : null;
    if (!user) throw new NotFoundError('User', userId);
    if (user.deletedAt) throw new ConflictError(`User ${user.email} was deleted and can hold no API keys`);
    if (!user.active) {
      throw new ConflictError(`User ${user.email} is deactivated and can hold no API keys: reactivate it first (PATCH /v1/users/${user.id} {"active": true})`);
    }
    if (input.role && !roleAtLeast(user.role, input.role)) {
      throw new UnprocessableError(`A key cannot hold role "${input.role}" above its user's role "${user.role}": change the user's role first (PATCH /v1/users/${user.id})`);
    }
    return issueApiKey(tx, actor, user, input);
  });
}

/** Own keys by default; an admin may list another user's keys (`userId`) in the same account. */
export async function listApiKeys(em: Em, actor: Actor, userId: string | undefined, page: PageRequest): Promise<Page<ApiKey>> {
  const owner = userId ?? actor.userId!;
  if (owner !== actor.userId) {
    if (!isUuid(owner) || (await em.count(User, { id: owner, accountId: actor.accountId })) === 0) throw new NotFoundError('User', owner);
    if (actor.role !== 'admin') throw new ForbiddenError('Only an admin may list other users\' keys');
  }
  return keysetPage(page, (idBelow, take) =>
    em.find(
      ApiKey,
      { accountId: actor.accountId, userId: owner, ...(idBelow && { id: { $lt: idBelow } }) },
      { orderBy: { id: 'desc' }, limit: take },
    ),
  );
}

export async function revokeApiKey(em: Em, actor: Actor, id: string): Promise<ApiKey> {
  const key = isUuid(id) ? await em.findOne(ApiKey, { id, accountId: actor.accountId }) : null;
  if (!key) throw new NotFoundError('API key', id);
  if (key.userId !== actor.userId && actor.role !== 'admin') {
    throw new ForbiddenError('Only an admin may revoke another user\'s key');
  }
  if (key.revokedAt) return key;
  const before = apiKeyView(key);
  key.revokedAt = new Date();
  key.updatedBy = actor.userId;
  recordAudit(em, actor, { action: 'api_key.revoke', entityType: 'api_key', entityId: key.id, before, after: apiKeyView(key) });
  await em.flush();
  return key;
}
