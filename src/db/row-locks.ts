import type { Em } from './orm.ts';

type Lockable = { resources: 'id'; users: 'id' | 'account_id'; operations: 'id' };

/**
 * `SELECT ... FOR UPDATE` inside `em`'s transaction: serializes the writers of one row (or of one account's users)
 * so a check-then-write (five keys per user, one admin left, gap-free state versions) cannot race.
 */
export async function lockRows<T extends keyof Lockable>(em: Em, table: T, column: Lockable[T], value: string): Promise<void> {
  await em.getConnection().execute(`select 1 from ${table} where ${column} = ? for update`, [value], 'run', em.getTransactionContext());
}
