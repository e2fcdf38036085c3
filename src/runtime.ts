import type { Config } from './config/index.ts';
import { resolveMasterKeys } from './config/master-key.ts';
import { startLocalPostgres, type LocalPostgres } from './db/local-postgres.ts';
import { initOrm, migrate, type Orm } from './db/orm.ts';
import { entities } from './modules/entities.ts';
import { connectRedis, createRedis } from './queue/redis.ts';
import { createServices } from './services.ts';
import type { Runtime } from './deps.ts';
import { DependencyError } from './shared/errors.ts';
import type { Logger } from './shared/logger.ts';
import { KeyRing } from './shared/vault.ts';

export type { Runtime };

/**
 * Local mode keys Redis by the installation (its PostgreSQL cluster, made in `.data/`): a fresh data folder starts
 * with empty queues, and never sees the jobs of the installation that folder held before, even on the same Redis
 * and SKYLOFT_REDIS_PREFIX. (Jobs of another installation that still reach a worker are completed as orphans:
 * workers/orphans.ts.) With DATABASE_URL set the prefix is SKYLOFT_REDIS_PREFIX as given.
 */
function withInstallationPrefix(config: Config, installationId: string, log: Logger): Config {
  const prefix = `${config.redis.prefix}:${installationId}`;
  log.info({ redisPrefix: prefix }, 'local mode: Redis keys are prefixed by this installation');
  return Object.freeze({ ...config, redis: Object.freeze({ ...config.redis, prefix }) });
}

export async function openDatabase(config: Config, log: Logger): Promise<{ orm: Orm; local?: LocalPostgres }> {
  const local = config.databaseUrl ? undefined : await startLocalPostgres(config.dataDir, log);
  const url = config.databaseUrl ?? local!.url;
  try {
    const orm = await initOrm(url, entities, log);
    await orm.em.getConnection().execute('select 1');
    return { orm, local };
  } catch (e) {
    await local?.stop();
    const where = new URL(url);
    throw new DependencyError('postgres', `PostgreSQL is not reachable at ${where.hostname}:${where.port || 5432}${where.pathname}: ${(e as Error).message}`, e);
  }
}

export async function openRuntime(configured: Config, log: Logger, opts: { migrate: boolean; redis: boolean }): Promise<Runtime> {
  const ring = new KeyRing(resolveMasterKeys(configured, log));
  const { orm, local } = await openDatabase(configured, log);
  const config = local ? withInstallationPrefix(configured, local.installationId, log) : configured;
  const redis = createRedis(config.redis.url);
  try {
    if (opts.migrate) await migrate(orm, log);
    if (opts.redis) await connectRedis(redis, config.redis.url);
  } catch (e) {
    await orm.close();
    await local?.stop();
    throw e;
  }
  const services = createServices(config, orm, redis, ring, log);
  return {
    ...services,
    ring,
    async close() {
      await services.queues.close();
      redis.disconnect();
      await orm.close();
      await local?.stop();
    },
  };
}
