import type { Redis } from 'ioredis';
import { cloudApiBackoff, cloudApiBudgetWait, cloudApiRetries, serviceOf, type CloudLabels } from '../shared/metrics.ts';
import { CloudThrottledError } from './ports.ts';

/**
 * The shared API budget of one (credential, region, service): a token bucket in Redis that every job type and every
 * worker process draws from, so inventory, health and (later) cost jobs together stay under what the cloud allows.
 * A throttling answer halves the refill rate and blocks the bucket for the cloud's Retry-After (or a backoff with
 * jitter); every success lets the rate recover by a small step, back up to its ceiling.
 */
const TAKE = `
local key, now, capacity, maxRate = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local b = redis.call('HMGET', key, 'tokens', 'rate', 'at', 'blockedUntil')
local rate = tonumber(b[2]) or maxRate
local tokens = tonumber(b[1]) or capacity
local at = tonumber(b[3]) or now
local blockedUntil = tonumber(b[4]) or 0
tokens = math.min(capacity, tokens + (now - at) / 1000 * rate)
local wait = 0
if blockedUntil > now then
  wait = blockedUntil - now
elseif tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', key, 'tokens', tokens, 'rate', rate, 'at', now, 'blockedUntil', blockedUntil)
redis.call('PEXPIRE', key, 3600000)
return wait`;

const THROTTLED = `
local key, now, untilMs, minRate, maxRate = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local rate = tonumber(redis.call('HGET', key, 'rate')) or maxRate
local blockedUntil = tonumber(redis.call('HGET', key, 'blockedUntil')) or 0
redis.call('HSET', key, 'rate', math.max(minRate, rate / 2), 'tokens', 0, 'at', now, 'blockedUntil', math.max(blockedUntil, untilMs))
redis.call('PEXPIRE', key, 3600000)
return 1`;

const RECOVER = `
local key, step, maxRate = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local rate = tonumber(redis.call('HGET', key, 'rate'))
if rate and rate < maxRate then redis.call('HSET', key, 'rate', math.min(maxRate, rate + step)) end
return 1`;

export interface BudgetLimits {
  /** Calls per second the bucket refills at when nothing was throttled. */
  ratePerSecond: number;
  /** Burst size. */
  capacity: number;
  /** The floor the rate never halves below. */
  minRatePerSecond: number;
}

export const DEFAULT_LIMITS: BudgetLimits = { ratePerSecond: 20, capacity: 20, minRatePerSecond: 0.5 };

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });

export class ApiBudget {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly limits: BudgetLimits;
  /** How many throttled answers one call sits out before giving up; health probes use 1: throttling is their answer. */
  private readonly attempts: number;

  constructor(redis: Redis, prefix: string, limits: BudgetLimits = DEFAULT_LIMITS, attempts = 8) {
    this.redis = redis;
    this.prefix = prefix;
    this.limits = limits;
    this.attempts = attempts;
  }

  private key(scope: string): string {
    return `${this.prefix}:budget:${scope}`;
  }

  /** Waits until the bucket grants one call; the time waited counts in skyloft_cloud_api_budget_wait_seconds_total. */
  async acquire(scope: string, signal?: AbortSignal, labels: CloudLabels = { provider: 'unknown', service: serviceOf(scope) }): Promise<void> {
    for (;;) {
      const wait = Number(await this.redis.eval(TAKE, 1, this.key(scope), Date.now(), this.limits.capacity, this.limits.ratePerSecond));
      if (wait <= 0) return;
      const started = performance.now();
      try {
        await sleep(wait + Math.random() * Math.min(wait, 250), signal);
      } finally {
        cloudApiBudgetWait.inc(labels, (performance.now() - started) / 1000);
      }
    }
  }

  async throttled(scope: string, retryAfterMs: number): Promise<void> {
    await this.redis.eval(THROTTLED, 1, this.key(scope), Date.now(), Date.now() + retryAfterMs, this.limits.minRatePerSecond, this.limits.ratePerSecond);
  }

  async succeeded(scope: string): Promise<void> {
    await this.redis.eval(RECOVER, 1, this.key(scope), this.limits.ratePerSecond / 20, this.limits.ratePerSecond);
  }

  /**
   * One cloud call under the budget: waits for a token, and on the cloud's throttling answer slows the whole bucket
   * down and tries again with exponential backoff and jitter, honouring Retry-After, up to `attempts` times.
   */
  async call<T>(scope: string, fn: () => Promise<T>, opts: { attempts?: number; signal?: AbortSignal; labels?: CloudLabels } = {}): Promise<T> {
    const attempts = opts.attempts ?? this.attempts;
    const labels = opts.labels ?? { provider: 'unknown', service: serviceOf(scope) };
    for (let attempt = 1; ; attempt++) {
      await this.acquire(scope, opts.signal, labels);
      try {
        const result = await fn();
        await this.succeeded(scope);
        return result;
      } catch (e) {
        if (!(e instanceof CloudThrottledError) || attempt >= attempts) throw e;
        const backoffMs = Math.max(e.retryAfterMs ?? 0, Math.min(30_000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2));
        cloudApiRetries.inc({ ...labels, reason: 'throttled' });
        cloudApiBackoff.inc({ ...labels, reason: 'throttled' }, backoffMs / 1000);
        await this.throttled(scope, backoffMs);
      }
    }
  }
}
