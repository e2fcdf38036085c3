import type { Redis } from 'ioredis';

/**
 * Per-account concurrency caps, shared by every worker process: a counting semaphore per (queue, account) in Redis,
 * a sorted set of job ids scored by lease expiry. A job whose account already runs `cap` jobs of that queue is
 * parked instead of run: its id joins the account's waiting line (a sorted set scored by when it first waited) and
 * the job itself waits in BullMQ's delayed set. When one of the account's jobs ends, the oldest parked job is woken
 * (promoted back to waiting). So one account's thousand creates wait in their own line, costing nothing while they
 * wait, and the workers' free slots take other accounts' jobs. Leases expire on their own, so a worker that dies
 * never holds a slot for long; a parked job also comes back by itself after a while, in case its wake-up was lost.
 */
const ACQUIRE = `
local slots, line = KEYS[1], KEYS[2]
local now, lease, cap, member = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
if redis.call('ZSCORE', slots, member) or redis.call('ZCARD', slots) < cap then
  redis.call('ZADD', slots, now + lease, member)
  redis.call('PEXPIRE', slots, lease)
  redis.call('ZREM', line, member)
  return 1
end
redis.call('ZADD', line, 'NX', now, member)
redis.call('PEXPIRE', line, 86400000)
return 0`;

/** Frees the slot and takes the oldest parked job of the account off its line, to be woken by the caller. */
const RELEASE = `
redis.call('ZREM', KEYS[1], ARGV[1])
local next = redis.call('ZPOPMIN', KEYS[2])
return next[1] or false`;

/** How long a slot is held without renewal; a running job renews it every third of that. */
export const LEASE_MS = 90_000;

/**
 * Wakes a parked job (moves it from delayed to waiting); false when it is gone or finished, so the next one in line
 * is woken instead.
 */
export type Waker = (queue: string, jobId: string) => Promise<boolean>;

export class AccountSlots {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly leaseMs: number;
  private readonly wake: Waker | undefined;

  constructor(redis: Redis, prefix: string, leaseMs = LEASE_MS, wake?: Waker) {
    this.redis = redis;
    this.prefix = prefix;
    this.leaseMs = leaseMs;
    this.wake = wake;
  }

  private keys(queue: string, accountId: string): [string, string] {
    return [`${this.prefix}:fair:${queue}:${accountId}`, `${this.prefix}:fair-line:${queue}:${accountId}`];
  }

  /** Takes (or renews) a slot for `jobId`; false (and the job parked in the account's line) at the cap. */
  async acquire(queue: string, accountId: string, jobId: string, cap: number): Promise<boolean> {
    const got = await this.redis.eval(ACQUIRE, 2, ...this.keys(queue, accountId), Date.now(), this.leaseMs, cap, jobId);
    return got === 1;
  }

  /** Frees `jobId`'s slot and wakes the account's oldest parked job (the next ones if it is gone). */
  async release(queue: string, accountId: string, jobId: string): Promise<void> {
    if (!this.wake) {
      await this.redis.zrem(this.keys(queue, accountId)[0], jobId);
      return;
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const next = (await this.redis.eval(RELEASE, 2, ...this.keys(queue, accountId), attempt === 0 ? jobId : '')) as string | null;
      if (!next || (await this.wake(queue, next))) return;
    }
  }

  /** Runs `work` holding a slot, renewing it while it runs; `ran: false` (work not run, job parked) at the cap. */
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
