import type { Redis } from 'ioredis';

/**
 * Per-account concurrency caps, shared by every worker process: a counting semaphore per (queue, account) in Redis,
 * a sorted set of job ids scored by lease expiry. A job whose account already runs `cap` jobs of that queue is put
 * back (delayed a moment) instead of run, so one account's thousand creates or million-row sync leaves room for
 * everyone else's. Leases expire on their own, so a worker that dies never holds a slot for long.
 */
const ACQUIRE = `
local key, now, lease, cap, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZSCORE', key, member) or redis.call('ZCARD', key) < cap then
  redis.call('ZADD', key, now + lease, member)
  redis.call('PEXPIRE', key, lease)
  return 1
end
return 0`;

/** How long a slot is held without renewal; a running job renews it every third of that. */
export const LEASE_MS = 90_000;

export class AccountSlots {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly leaseMs: number;

  constructor(redis: Redis, prefix: string, leaseMs = LEASE_MS) {
    this.redis = redis;
    this.prefix = prefix;
    this.leaseMs = leaseMs;
  }

  private key(queue: string, accountId: string): string {
    return `${this.prefix}:fair:${queue}:${accountId}`;
  }

  /** Takes (or renews) a slot for `jobId`; false when the account already holds `cap` slots of this queue. */
  async acquire(queue: string, accountId: string, jobId: string, cap: number): Promise<boolean> {
    const got = await this.redis.eval(ACQUIRE, 1, this.key(queue, accountId), Date.now(), this.leaseMs, cap, jobId);
    return got === 1;
  }

  async release(queue: string, accountId: string, jobId: string): Promise<void> {
    await this.redis.zrem(this.key(queue, accountId), jobId);
  }

  /** Runs `work` holding a slot, renewing it while it runs; undefined (work not run) when the account is at its cap. */
  async run<T>(queue: string, accountId: string, jobId: string, cap: number, work: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    if (!(await this.acquire(queue, accountId, jobId, cap))) return { ran: false };
    const renew = setInterval(() => void this.acquire(queue, accountId, jobId, Number.MAX_SAFE_INTEGER).catch(() => {}), this.leaseMs / 3);
    try {
      return { ran: true, value: await work() };
    } finally {
      clearInterval(renew);
      await this.release(queue, accountId, jobId).catch(() => {});
    }
  }
}
