import type { Redis } from 'ioredis';
import type { Config } from './config/index.ts';
import type { Orm } from './db/orm.ts';
import type { AppDeps } from './deps.ts';
import { CredentialService } from './modules/credentials/index.ts';
import { HealthService } from './modules/health/index.ts';
import { SyncService } from './modules/inventory/index.ts';
import { ProvisioningService } from './modules/provisioning/index.ts';
import { credentialUsage } from './modules/retention/index.ts';
import { ScheduleService } from './modules/schedules/index.ts';
import { CostService } from './modules/cost/index.ts';
import { StateStore } from './modules/state/index.ts';
import { Queues } from './queue/catalog.ts';
import type { Logger } from './shared/logger.ts';
import { OutboundGuard, type Resolver } from './shared/outbound.ts';
import type { KeyRing } from './shared/vault.ts';

/**
 * Every service wired to its ports: one place, used by the process (runtime.ts) and by the tests alike. `resolve`
 * replaces DNS for the outbound guard (tests).
 */
export function createServices(config: Config, orm: Orm, redis: Redis, ring: KeyRing, log: Logger, opts: { resolve?: Resolver } = {}): AppDeps {
  const queues = new Queues(redis, config.redis.prefix, config.jobRetention);
  const outbound = OutboundGuard.fromConfig(config, opts.resolve);
  return {
    outbound,
    config,
    orm,
    redis,
    log,
    queues,
    credentials: new CredentialService(ring, credentialUsage, { outbound, awsHostIdentity: config.awsHostIdentity, maxCredentials: config.quotas.credentials }),
    state: new StateStore(ring, config.stateRetention),
    provisioning: new ProvisioningService(queues, log, config.quotas),
    sync: new SyncService(queues, log),
    health: new HealthService(queues, log, config.healthSlowMs),
    schedules: new ScheduleService(queues, config.scheduleFloors),
    cost: new CostService(queues, log, config.cost, { redis, prefix: config.redis.prefix, perHour: config.quotas.costCollectionsPerHour }),
  };
}
