import type { Em } from '../../db/orm.ts';
import { lockRows } from '../../db/row-locks.ts';
import type { Actor } from '../../shared/actor.ts';
import { ConflictError, NotFoundError } from '../../shared/errors.ts';
import { isUuid, newId } from '../../shared/ids.ts';
import { iso } from '../../shared/time.ts';
import { keysetPage, type Page, type PageRequest } from '../../shared/pagination.ts';
import { recordAudit } from '../audit/index.ts';
import { issueApiKey } from './api-keys.ts';
import { ApiKey, User, type RoleName } from './entities.ts';

export type UserView = ReturnType<typeof userView>;

export function userView(u: User) {
  return {
    id: u.id,
    email: u.email,
    role: u.role,
    active: u.active,
    deletedAt: iso(u.deletedAt),
    createdAt: iso(u.createdAt),
    updatedAt: iso(u.updatedAt),
  };
}

async function assertEmailFree(em: Em, accountId: string, email: string): Promise<void> {
  if ((await em.count(User, { accountId, email, deletedAt: null })) > 0) {
    throw new ConflictError(`A user with email ${email} already exists in this account`);
  }
}

/** Adds a user and issues its first API key (shown once, in this answer only). */
export async function createUser(em: Em, actor: Actor, input: { email: string; role: RoleName }) {
  return em.transactional(async (tx) => {
    const email = input.email.toLowerCase();
    await assertEmailFree(tx, actor.accountId, email);
    const user = tx.create(User, {
      id: newId(),
      accountId: actor.accountId,
      email,
      role: input.role,
      active: true,
      deletedAt: null,
      createdBy: actor.userId,
      updatedBy: actor.userId,
    });
    recordAudit(tx, actor, { action: 'user.create', entityType: 'user', entityId: user.id, after: userView(user) });
    const { apiKey, key } = await issueApiKey(tx, actor, user, { name: 'default' });
    return { user, apiKey, key };
  });
}

export async function listUsers(em: Em, accountId: string, page: PageRequest): Promise<Page<User>> {
  return keysetPage(page, (idBelow, take) =>
    em.find(User, { accountId, ...(idBelow && { id: { $lt: idBelow } }) }, { orderBy: { id: 'desc' }, limit: take }),
  );
}

export async function getUser(em: Em, accountId: string, id: string): Promise<User> {
  const user = isUuid(id) ? await em.findOne(User, { id, accountId }) : null;
  if (!user) throw new NotFoundError('User', id);
  return user;
}

/**
 * Changes role or active flag. The account must keep one active admin, so the last one cannot be demoted or
 * deactivated (409). Deactivating revokes every key of the user.
 */
export async function updateUser(em: Em, actor: Actor, id: string, patch: { role?: RoleName; active?: boolean }) {
  return em.transactional(async (tx) => {
    // Lock the account's users so two concurrent demotions cannot each see "another admin remains".
    await lockRows(tx, 'users', 'account_id', actor.accountId);
    const user = await getUser(tx, actor.accountId, id);
    if (user.deletedAt) throw new ConflictError('This user was deleted and cannot be changed');
    const before = userView(user);
    const losesAdmin = user.role === 'admin' && user.active && (patch.role !== undefined && patch.role !== 'admin' || patch.active === false);
    if (losesAdmin) await assertAnotherAdmin(tx, actor.accountId, user.id);
    if (patch.role !== undefined) user.role = patch.role;
    if (patch.active !== undefined) user.active = patch.active;
    user.updatedBy = actor.userId;
    if (patch.active === false) await revokeAllKeys(tx, user.id);
    recordAudit(tx, actor, { action: 'user.update', entityType: 'user', entityId: user.id, before, after: userView(user) });
    return user;
  });
}

/** Soft delete: the row stays for the audit trail; the user can no longer sign in and its keys are revoked. */
export async function deleteUser(em: Em, actor: Actor, id: string) {
  return em.transactional(async (tx) => {
    await lockRows(tx, 'users', 'account_id', actor.accountId);
    const user = await getUser(tx, actor.accountId, id);
    if (user.deletedAt) return user;
    const before = userView(user);
    if (user.role === 'admin' && user.active) await assertAnotherAdmin(tx, actor.accountId, user.id);
    user.active = false;
    user.deletedAt = new Date();
    user.updatedBy = actor.userId;
    await revokeAllKeys(tx, user.id);
    recordAudit(tx, actor, { action: 'user.delete', entityType: 'user', entityId: user.id, before, after: userView(user) });
    return user;
  });
}

async function assertAnotherAdmin(em: Em, accountId: string, exceptId: string): Promise<void> {
  const others = await em.count(User, { accountId, role: 'admin', active: true, deletedAt: null, id: { $ne: exceptId } });
  if (others === 0) throw new ConflictError('An account must keep at least one active admin');
}

async function revokeAllKeys(em: Em, userId: string): Promise<void> {
  await em.nativeUpdate(ApiKey, { userId, revokedAt: null }, { revokedAt: new Date(), updatedAt: new Date() });
}
