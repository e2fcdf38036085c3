import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountSlots } from '../../src/queue/fairness.ts';
import { createRedis } from '../../src/queue/redis.ts';
import { REDIS_URL } from '../support/env.ts';
import { deleteKeys, uniquePrefix } from '../support/redis.ts';

const redis = createRedis(REDIS_URL);
const prefix = uniquePrefix('fair');

beforeAll(() => redis.connect());
afterAll(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

describe('per-account slots', () => {
  it('let an account run at most its cap of one queue at once, leaving others and other queues alone', async () => {
    const slots = new AccountSlots(redis, prefix);
    expect(await slots.acquire('inventory', 'acct-a', 'job-1', 2)).toBe(true);
    expect(await slots.acquire('inventory', 'acct-a', 'job-2', 2)).toBe(true);
    expect(await slots.acquire('inventory', 'acct-a', 'job-3', 2)).toBe(false);
    // The same job asking again renews its slot rather than taking another.
    expect(await slots.acquire('inventory', 'acct-a', 'job-2', 2)).toBe(true);
    expect(await slots.acquire('inventory', 'acct-b', 'job-4', 2)).toBe(true);
    expect(await slots.acquire('cost', 'acct-a', 'job-5', 2)).toBe(true);
    await slots.release('inventory', 'acct-a', 'job-1');
    expect(await slots.acquire('inventory', 'acct-a', 'job-3', 2)).toBe(true);
  });

  it('free a slot whose holder died once its lease lapses', async () => {
    const slots = new AccountSlots(redis, prefix, 300);
    expect(await slots.acquire('health', 'acct-c', 'dead-worker-job', 1)).toBe(true);
    expect(await slots.acquire('health', 'acct-c', 'next-job', 1)).toBe(false);
    await new Promise((r) => setTimeout(r, 400));
    expect(await slots.acquire('health', 'acct-c', 'next-job', 1)).toBe(true);
  });

  it('hold the slot while the work runs (renewing it) and release it after, also when the work fails', async () => {
    const slots = new AccountSlots(redis, prefix, 300);
    let during: boolean | undefined;
    const result = await slots.run('provisioning', 'acct-d', 'long-job', 1, async () => {
      await new Promise((r) => setTimeout(r, 700)); // longer than the lease: renewal keeps it
      during = await slots.acquire('provisioning', 'acct-d', 'other-job', 1);
      return 42;
    });
    expect(result).toEqual({ ran: true, value: 42 });
    expect(during).toBe(false);
    await expect(slots.run('provisioning', 'acct-d', 'failing-job', 1, async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(await slots.run('provisioning', 'acct-d', 'after', 1, async () => 'ok')).toEqual({ ran: true, value: 'ok' });
  });
});
