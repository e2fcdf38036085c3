import type { Em } from '../../db/orm.ts';
import type { Actor } from '../../shared/actor.ts';
import { newAccountId, newId } from '../../shared/ids.ts';
import { recordAudit } from '../audit/index.ts';
import { issueApiKey } from './api-keys.ts';
import { Account, User } from './entities.ts';
import { userView } from './users.ts';

/** Creates a new account with its first admin and an API key. Each call makes a new account. */
export async function bootstrapAccount(em: Em, input: { email: string; accountName?: string }) {
  return em.transactional(async (tx) => {
    const email = input.email.toLowerCase();
    const account = tx.create(Account, { id: newAccountId(), name: input.accountName ?? email });
    const user = tx.create(User, {
      id: newId(),
      accountId: account.id,
      email,
      role: 'admin',
      active: true,
      deletedAt: null,
      createdBy: null,
      updatedBy: null,
    });
    const actor: Actor = { kind: 'cli', accountId: account.id, userId: null, keyId: null, role: 'admin' };
    // Flush account and user first: the audit row and key reference them.
    await tx.flush();
    recordAudit(tx, actor, { action: 'account.bootstrap', entityType: 'account', entityId: account.id, after: { name: account.name, admin: userView(user) } });
    const { key } = await issueApiKey(tx, actor, user, { name: 'bootstrap' });
    return { accountId: account.id, userId: user.id, apiKey: key };
  });
}
