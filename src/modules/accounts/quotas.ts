import type { Em } from '../../db/orm.ts';
import { QuotaExceededError } from '../../shared/errors.ts';

/** The count quotas of one account (SKYLOFT_QUOTA_*; Infinity when set to `unlimited`). */
export interface CountQuotas {
  credentials: number;
  resources: number;
  activeOperations: number;
}

/**
 * What each quota counts, as the rows' own SQL (the statuses are the entities' own: a live credential is one not
 * deleted; a live resource is any Skyloft still manages, neither destroyed nor forgotten; an unfinished operation is
 * queued, running or awaiting approval).
 */
const QUOTAS: Record<keyof CountQuotas, { rows: string; variable: string; noun: string; remedy: string }> = {
  credentials: {
    rows: 'select 1 from credentials where account_id = ? and deleted_at is null',
    variable: 'SKYLOFT_QUOTA_CREDENTIALS',
    noun: 'credentials',
    remedy: 'delete one',
  },
  resources: {
    rows: "select 1 from resources where account_id = ? and status not in ('destroyed', 'forgotten')",
    variable: 'SKYLOFT_QUOTA_RESOURCES',
    noun: 'live resources',
    remedy: 'destroy some',
  },
  activeOperations: {
    rows: "select 1 from operations where account_id = ? and status in ('queued', 'running', 'awaiting_approval')",
    variable: 'SKYLOFT_QUOTA_ACTIVE_OPERATIONS',
    noun: 'unfinished operations (queued, running or awaiting approval)',
    remedy: 'wait for some to finish',
  },
};

/**
 * Serializes an account's quota-checked writes: its accounts row locked inside the caller's transaction, so of two
 * requests at the limit the second counts only after the first committed (or rolled back), and both cannot pass.
 * NO KEY UPDATE, not UPDATE: the foreign-key checks of everything else the account writes meanwhile (audit rows,
 * inventory, cost) take KEY SHARE on the same row and must not queue behind a create. Take it before any other row
 * lock (a resource's), so lock order is always account first.
 */
export async function lockAccountQuotas(tx: Em, accountId: string): Promise<void> {
  await tx.getConnection().execute('select 1 from accounts where id = ? for no key update', [accountId], 'run', tx.getTransactionContext());
}

/**
 * 422 quota_exceeded when the account already holds `limit` of what `quota` counts; call under lockAccountQuotas.
 * The count stops at the limit, so it costs at most that many index entries however much the account holds.
 */
export async function assertQuota(tx: Em, quota: keyof CountQuotas, limit: number, accountId: string): Promise<void> {
  if (limit === Number.POSITIVE_INFINITY) return;
  const { rows, variable, noun, remedy } = QUOTAS[quota];
  const [row] = await tx.getConnection().execute<{ n: number }[]>(`select count(*)::int as n from (${rows} limit ?) q`, [accountId, limit], 'all', tx.getTransactionContext());
  const used = row?.n ?? 0;
  if (used < limit) return;
  throw new QuotaExceededError(
    `This account has reached its quota of ${limit} ${noun} (${variable}); ${remedy}, or ask the installation's operators to raise it`,
    { quota, limit, used, variable },
  );
}
