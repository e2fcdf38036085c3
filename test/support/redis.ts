import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A fresh key prefix, so tests sharing the machine's Redis never see each other's keys. */
export const uniquePrefix = (kind = 'test') => `${kind}-${randomUUID()}`;

/** Deletes every key under `prefix` (SCAN, so a large test leaves Redis responsive). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
