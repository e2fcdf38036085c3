import type { Redis } from 'ioredis';
import type { Config } from './config/index.ts';
import { resolveMasterKeys } from './config/master-key.ts';
import { startLocalPostgres, type LocalPostgres } from './db/local-postgres.ts';
import { initOrm, migrate, type Orm } from './db/orm.ts';
import { CredentialService } from './modules/credentials/service.ts';
import { entities } from './modules/entities.ts';
import { StateStore } from './modules/state/versions.ts';
import { ProvisioningService } from './modules/provisioning/service.ts';
import { Queues } from './queue/catalog.ts';
import { SyncService } from './modules/inventory/sync.ts';
import { HealthService } from './modules/health/service.ts';
import { ScheduleService } from './modules/schedules/service.ts';
import { connectRedis, createRedis } from './queue/redis.ts';
import { DependencyError } from './shared/errors.ts';
import type { Logger } from './shared/logger.ts';
import { KeyRing } from './shared/vault.ts';

/** The long-lived parts every role (and the CLI) shares, opened in dependency order and closed in reverse. */
export interface Runtime {
  config: Config;
  log: Logger;
  orm: Orm;
  redis: Redis;
  ring: KeyRing;
  credentials: CredentialService;
  state: StateStore;
  queues: Queues;
  provisioning: ProvisioningService;
  sync: SyncService;
  health: HealthService;
  schedules: ScheduleService;
  close(): Promise<void>;
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

export async function openRuntime(config: Config, log: Logger, opts: { migrate: boolean; redis: boolean }): Promise<Runtime> {
  const ring = new KeyRing(resolveMasterKeys(config, log));
  const { orm, local } = await openDatabase(config, log);
  const redis = createRedis(config.redis.url);
  try {
    if (opts.migrate) await migrate(orm, log);
    if (opts.redis) await connectRedis(redis, config.redis.url);
  } catch (e) {
    await orm.close();
    await local?.stop();
    throw e;
  }
  const queues = new Queues(redis, config.redis.prefix);
  return {
    config,
    log,
    orm,
    redis,
    ring,
    credentials: new CredentialService(ring),
    state: new StateStore(ring, config.stateRetention),
    queues,
    provisioning: new ProvisioningService(queues, log),
    sync: new SyncService(queues, log),
    health: new HealthService(queues, log, config.healthSlowMs),
    schedules: new ScheduleService(queues),
    async close() {
      await queues.close();
      redis.disconnect();
      await orm.close();
      await local?.stop();
    },
  };
}
