import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { DependencyError } from '../shared/errors.ts';

/**
 * One factory for every Redis connection: standalone (`redis://`, `rediss://`), Sentinel
 * (`redis-sentinel://[:password@]host:port[,host:port...]/<master name>`) or Cluster
 * (`redis-cluster://[:password@]host:port[,host:port...]`); `?tls=true` on the last two for TLS. `maxRetriesPerRequest:
 * null` is what BullMQ workers require; commands issued from HTTP requests instead fail fast (enableOfflineQueue false)
 * so a Redis outage answers 503 at once. A Cluster client is typed as Redis: it speaks the same commands, and every key
 * Skyloft and BullMQ use carries the hash-tagged prefix (config), so multi-key commands stay in one slot.
 */
export function createRedis(url: string, opts: { forWorker?: boolean } = {}): Redis {
  const options: RedisOptions = opts.forWorker
    ? { maxRetriesPerRequest: null, enableReadyCheck: true }
    : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5_000 };
  let redis: Redis;
  if (url.startsWith('redis-sentinel://') || url.startsWith('redis-cluster://')) {
    // host:port lists are not URLs: read [user:password@]hosts[/name][?query] by hand.
    const rest = url.slice(url.indexOf('//') + 2);
    const [main = '', query = ''] = rest.split('?', 2);
    const at = main.lastIndexOf('@');
    const userinfo = at >= 0 ? main.slice(0, at) : '';
    const [hostList = '', path = ''] = (at >= 0 ? main.slice(at + 1) : main).split('/', 2);
    const params = new URLSearchParams(query);
    const nodes = hostList.split(',').map((hp) => {
      const [host, port] = hp.split(':');
      return { host: host!, port: Number(port || (url.startsWith('redis-sentinel://') ? 26379 : 6379)) };
    });
    const rawPassword = userinfo.includes(':') ? userinfo.slice(userinfo.indexOf(':') + 1) : '';
    const password = rawPassword ? decodeURIComponent(rawPassword) : undefined;
    const tls = params.get('tls') === 'true' ? {} : undefined;
    if (url.startsWith('redis-sentinel://')) {
      const name = decodeURIComponent(path);
      const sentinelPassword = params.get('sentinelPassword') ?? undefined;
      redis = new Redis({ lazyConnect: true, ...options, sentinels: nodes, name, password, sentinelPassword, ...(tls && { tls, enableTLSForSentinelMode: true }) });
    } else {
      const cluster = new Cluster(nodes, {
        lazyConnect: true,
        enableOfflineQueue: options.enableOfflineQueue ?? true,
        redisOptions: { ...options, password, ...(tls && { tls }) },
      });
      redis = cluster as unknown as Redis;
    }
  } else {
    redis = new Redis(url, { lazyConnect: true, ...options });
  }
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
