import type { Redis } from 'ioredis';
import type { Config } from './config/index.ts';
import type { Em, Orm } from './db/orm.ts';
import type { Actor } from './shared/actor.ts';
import type { Logger } from './shared/logger.ts';
import type { KeyRing } from './shared/vault.ts';
import type { OutboundGuard } from './shared/outbound.ts';
import type { CredentialService } from './modules/credentials/index.ts';
import type { StateStore } from './modules/state/index.ts';
import type { ProvisioningService } from './modules/provisioning/index.ts';
import type { Queues } from './queue/catalog.ts';
import type { SyncService } from './modules/inventory/index.ts';
import type { HealthService } from './modules/health/index.ts';
import type { ScheduleService } from './modules/schedules/index.ts';
import type { CostService } from './modules/cost/index.ts';

// What a process is made of, typed here, between the modules and their callers (src/http, workers), so neither
// reaches up to src/runtime.ts, which builds it.

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

/** The long-lived parts every role (and the CLI) shares, opened in dependency order and closed in reverse (src/runtime.ts). */
export interface Runtime extends AppDeps {
  ring: KeyRing;
  close(): Promise<void>;
}
