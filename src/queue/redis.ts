import { Redis, type RedisOptions } from 'ioredis';
import { DependencyError } from '../shared/errors.ts';

/**
 * One factory for every Redis connection. `maxRetriesPerRequest: null` is what BullMQ workers require; commands
 * issued from HTTP requests instead fail fast (enableOfflineQueue false) so a Redis outage answers 503 at once.
 */
export function createRedis(url: string, opts: { forWorker?: boolean } = {}): Redis {
  const options: RedisOptions = opts.forWorker
    ? { maxRetriesPerRequest: null, enableReadyCheck: true }
    : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5_000 };
  const redis = new Redis(url, { lazyConnect: true, ...options });
  // Connection errors reach callers through failed commands and /readyz; without a listener ioredis prints
  // every reconnect attempt as an "Unhandled error event".
  redis.on('error', () => {});
  return redis;
}

/** Connects or explains where Redis was expected and how to start one. */
export async function connectRedis(redis: Redis, url: string): Promise<void> {
  try {
    await redis.connect();
    await redis.ping();
  } catch (e) {
    redis.disconnect();
    throw new DependencyError(
      'redis',
      `Redis is not reachable at ${redactUrl(url)}. Start one with \`docker compose up -d redis\` or the system ` +
        'package (`apt-get install redis-server`), or point REDIS_URL at yours.',
      e,
    );
  }
}

/** A URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}
