import type { Em } from './orm.ts';

/**
 * Runs `step` in its own short transaction until it reports 0 rows done, and answers the total. A crash midway
 * loses nothing: committed batches stay done and the next run picks up the rest (rotate-master-key).
 */
export async function inBatches(em: Em, step: (tx: Em) => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const done = await em.fork().transactional(step);
    if (done === 0) return total;
    total += done;
  }
}

/**
 * Runs one batched statement (its last parameter is the batch size) until it affects fewer rows than a batch, and
 * answers the total: history is deleted in short statements, never one holding a million row locks.
 */
export async function repeatInBatches(em: Em, sql: string, params: unknown[], batch: number): Promise<number> {
  let total = 0;
  for (;;) {
    const res = (await em.getConnection().execute(sql, [...params, batch], 'run')) as unknown as { affectedRows: number };
    total += res.affectedRows;
    if (res.affectedRows < batch) return total;
  }
}

