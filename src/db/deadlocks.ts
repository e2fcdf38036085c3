import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Runs a transaction again when PostgreSQL chose it as a deadlock victim (40P01), up to `attempts` times with a
 * short random pause: deleting a credential cascades over rows a running job is updating in another order.
 */
export async function retryOnDeadlock<T>(transaction: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (err) {
      const deadlock = (err as { code?: string }).code === '40P01' || (err as Error).name === 'DeadlockException';
      if (!deadlock || attempt >= attempts) throw err;
      await sleep(20 + Math.random() * 80 * attempt);
    }
  }
}
