import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { initOrm, type Orm } from '../../src/db/orm.ts';
import { buildApp } from '../../src/http/app.ts';
import type { AppDeps } from '../../src/deps.ts';
import { bootstrapAccount } from '../../src/modules/accounts/bootstrap.ts';
import { entities } from '../../src/modules/entities.ts';
import { createRedis } from '../../src/queue/redis.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { createServices } from '../../src/services.ts';
import { KeyRing } from '../../src/shared/vault.ts';
import type { Resolver } from '../../src/shared/outbound.ts';
import { REDIS_URL, TEST_ALLOWED_ENDPOINTS, databaseUrl } from './env.ts';
import { deleteKeys } from './redis.ts';
import { admin } from './global-setup.ts';

export interface TestContext {
  app: FastifyInstance;
  deps: AppDeps;
  orm: Orm;
  config: Config;
  ring: KeyRing;
  /** Every log line the app wrote, as raw JSON text. */
  logs: string[];
  dbName: string;
  /** A new account with an admin key. */
  bootstrap(email?: string): Promise<{ accountId: string; userId: string; apiKey: string }>;
  close(): Promise<void>;
}

/**
 * A fresh database cloned from the run's migrated template, a unique Redis prefix, and the real app on them. The
 * emulator's loopback endpoints are allowed (TEST_ALLOWED_ENDPOINTS; `env` may replace it); `resolve` replaces DNS
 * for the outbound guard.
 */
export async function createTestContext(env: Record<string, string> = {}, opts: { resolve?: Resolver } = {}): Promise<TestContext> {
  const dbName = `skyloft_t_${inject('runId')}_${randomBytes(4).toString('hex')}`;
  await admin(`create database ${dbName} template ${inject('templateDb')}`);
  const config = loadConfig({
    DATABASE_URL: databaseUrl(dbName),
    REDIS_URL,
    SKYLOFT_REDIS_PREFIX: `test-${randomUUID()}`,
    SKYLOFT_MASTER_KEY: randomBytes(32).toString('base64'),
    LOG_LEVEL: 'debug',
    SKYLOFT_ALLOWED_ENDPOINTS: TEST_ALLOWED_ENDPOINTS,
    ...env,
  });
  const logs: string[] = [];
  const log = createLogger(config.logLevel, new Writable({ write(chunk, _enc, done) { logs.push(String(chunk)); done(); } }) as never);
  const orm = await initOrm(config.databaseUrl!, entities, log, 4);
  const redis = createRedis(config.redis.url);
  await redis.connect();
  const ring = new KeyRing([config.masterKey!]);
  const deps = createServices(config, orm, redis, ring, log, opts);
  const app = await buildApp(deps);
  return {
    app,
    deps,
    orm,
    config,
    ring,
    logs,
    dbName,
    bootstrap: (email = `admin-${randomBytes(3).toString('hex')}@example.com`) => bootstrapAccount(orm.em.fork(), { email }),
    async close() {
      await app.close();
      await deps.queues.close();
      await deleteKeys(redis, config.redis.prefix);
      redis.disconnect();
      await orm.close();
      await admin(`drop database if exists ${dbName} with (force)`);
    },
  };
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
