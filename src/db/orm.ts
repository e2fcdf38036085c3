import { defineConfig, MikroORM, type EntityManager } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import type { EntitySchema } from '@mikro-orm/core';
import type { Logger } from '../shared/logger.ts';
import { migrations } from './migrations/index.ts';

export type Orm = MikroORM;
export type Em = EntityManager;

export function ormConfig(clientUrl: string, entities: EntitySchema<any, any>[], poolMax = 10, log?: Logger) {
  return defineConfig({
    clientUrl,
    // MikroORM's own messages (migrator progress) go to our logger, which writes to stderr.
    logger: (message: string) => log?.debug({ orm: message }, 'mikro-orm'),
    entities,
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: false },
    pool: { min: 0, max: poolMax },
    // Entities are defined with defineEntity; no reflection, no folder scanning.
    migrations: { tableName: 'skyloft_migrations', migrationsList: migrations, transactional: true, allOrNothing: true, snapshot: false, snapshotOnMigrate: false },
    // The forked EntityManager per request/job is explicit; the global one must never be used.
    allowGlobalContext: false,
    debug: false,
  });
}

export async function initOrm(clientUrl: string, entities: EntitySchema<any, any>[], log: Logger, poolMax?: number): Promise<Orm> {
  return MikroORM.init(ormConfig(clientUrl, entities, poolMax, log));
}

// Any constant shared by every Skyloft replica; pg_advisory_lock keys are bigint.
const MIGRATION_LOCK_KEY = 7_253_011_902;

/**
 * Applies pending migrations inside one transaction holding an advisory lock, so replicas starting together run
 * them once: the others wait on the lock, then find nothing pending.
 */
export async function migrate(orm: Orm, log: Logger): Promise<string[]> {
  const conn = orm.em.getConnection();
  const applied = await conn.transactional(async (trx) => {
    await conn.execute('select pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY], 'run', trx);
    return orm.migrator.up({ transaction: trx });
  });
  if (applied.length > 0) log.info({ migrations: applied.map((m) => m.name) }, 'migrations applied');
  return applied.map((m) => m.name);
}
