import type { Redis } from 'ioredis';
import type { Config } from '../config/index.ts';
import type { Em, Orm } from '../db/orm.ts';
import type { Actor } from '../shared/actor.ts';
import type { Logger } from '../shared/logger.ts';
import type { OutboundGuard } from '../shared/outbound.ts';
import type { RoleName } from '../modules/accounts/entities.ts';
import type { CredentialService } from '../modules/credentials/service.ts';
import type { StateStore } from '../modules/state/versions.ts';
import type { ProvisioningService } from '../modules/provisioning/service.ts';
import type { Queues } from '../queue/catalog.ts';
import type { SyncService } from '../modules/inventory/sync.ts';
import type { HealthService } from '../modules/health/service.ts';
import type { ScheduleService } from '../modules/schedules/service.ts';
import type { CostService } from '../modules/cost/collect.ts';

/** Everything the HTTP layer needs, built once by the process (or by a test) and handed to buildApp. */
export interface AppDeps {
  config: Config;
  orm: Orm;
  redis: Redis;
  log: Logger;
  credentials: CredentialService;
  state: StateStore;
  queues: Queues;
  provisioning: ProvisioningService;
  sync: SyncService;
  health: HealthService;
  schedules: ScheduleService;
  cost: CostService;
  /** Where tenants' credentials may make workers connect (src/shared/outbound.ts). */
  outbound: OutboundGuard;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** A forked EntityManager for this request only. */
    em: Em;
    /** Set by the auth plugin on every /v1 route. */
    actor: Actor;
  }
  interface FastifyContextConfig {
    /** The lowest role allowed on an API-key route. Every route declares this or `public` (checked at start-up). */
    minRole?: RoleName;
    /** Not guarded by API keys: public (health, docs) or guarding itself (the dashboard's sessions, /metrics). */
    public?: boolean;
  }
}
