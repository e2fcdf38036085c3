import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiBudget } from '../../src/clouds/budget.ts';
import { CloudThrottledError } from '../../src/clouds/ports.ts';
import { createRedis } from '../../src/queue/redis.ts';
import { REDIS_URL } from '../support/env.ts';
import { deleteKeys } from '../support/redis.ts';

const redis = createRedis(REDIS_URL);
const prefix = `test-${randomUUID()}`;
beforeAll(() => redis.connect());
afterAll(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

describe('the shared API budget', () => {
  it('lets a burst through, then paces calls at its rate across clients', async () => {
    const a = new ApiBudget(redis, prefix, { ratePerSecond: 10, capacity: 5, minRatePerSecond: 1 });
    const b = new ApiBudget(redis, prefix, { ratePerSecond: 10, capacity: 5, minRatePerSecond: 1 });
    const started = Date.now();
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).acquire('cred:us-east-1:ec2')));
    // 5 from the burst, 5 more at 10/s: at least ~400 ms, whichever client asked.
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
  });

  it('halves its rate and honours Retry-After when the cloud throttles, and retries until the call succeeds', async () => {
    const budget = new ApiBudget(redis, prefix, { ratePerSecond: 20, capacity: 20, minRatePerSecond: 1 });
    let calls = 0;
    const result = await budget.call('cred:eu-west-1:ec2', async () => {
      calls++;
      if (calls <= 2) throw new CloudThrottledError('RequestLimitExceeded', 300);
      return 'ok';
    });
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    const rate = Number(await redis.hget(`${prefix}:budget:cred:eu-west-1:ec2`, 'rate'));
    expect(rate).toBeLessThan(20);
    expect(rate).toBeGreaterThanOrEqual(1);
  });

  it('gives up after its attempts and leaves other errors alone', async () => {
    const budget = new ApiBudget(redis, prefix, { ratePerSecond: 50, capacity: 50, minRatePerSecond: 10 });
    await expect(budget.call('s1', async () => { throw new CloudThrottledError('slow down', 1); }, { attempts: 2 })).rejects.toBeInstanceOf(CloudThrottledError);
    let calls = 0;
    await expect(budget.call('s2', async () => { calls++; throw new Error('boom'); })).rejects.toThrow('boom');
    expect(calls).toBe(1);
  });
});
