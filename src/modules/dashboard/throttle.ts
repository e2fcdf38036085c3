import type { Redis } from 'ioredis';
import type { Config } from '../../config/index.ts';
import { withTimeout } from '../../shared/timeout.ts';

/** Sign-in attempts one IP address may make per minute (successful ones count too). */
export const SIGN_IN_ATTEMPTS_PER_MINUTE = 10;

/**
 * A fixed one-minute window per client address, the same shape as the API's per-key limit
 * (src/http/plugins/auth.ts): one INCR and one PEXPIRE in a single round trip. Rejects when Redis does not answer;
 * the caller lets the attempt through then (a key is 214 random bits: the limit is hygiene, not the defence).
 */
export async function signInAttempt(deps: { redis: Redis; config: Config }, ip: string) {
  const windowMs = 60_000;
  const now = Date.now();
  const windowStart = now - (now % windowMs);
  const counter = `${deps.config.redis.prefix}:dashboard-sign-in:${ip}:${windowStart}`;
  const replies = (await withTimeout(deps.redis.multi().incr(counter).pexpire(counter, windowMs * 2).exec(), 1_000, 'Redis')) ?? [];
  const count = Number(replies[0]?.[1]);
  return {
    allowed: !(count > SIGN_IN_ATTEMPTS_PER_MINUTE),
    retryAfterSeconds: Math.max(1, Math.ceil((windowStart + windowMs - now) / 1000)),
  };
}
