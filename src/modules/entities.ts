import { Account, ApiKey, User } from './accounts/entities.ts';
import { AuditLog } from './audit/entity.ts';
import { Credential } from './credentials/entity.ts';
import { IdempotencyKey, Operation, Resource } from './provisioning/entities.ts';
import { StateLock, StateVersion } from './state/entities.ts';
import { SyncRun, SyncScope } from './inventory/entities.ts';
import { HealthCheck } from './health/entity.ts';
import { AccountSchedule } from './schedules/entity.ts';
import { CostRun } from './cost/entities.ts';
import { DashboardSession } from './dashboard/entity.ts';
import { InstallationKey } from './installation/entity.ts';

/** The explicit entity list (no folder discovery). Each new module adds its entities here. */
export const entities = [Account, User, ApiKey, Credential, AuditLog, Resource, Operation, IdempotencyKey, StateVersion, StateLock, SyncRun, SyncScope, HealthCheck, AccountSchedule, CostRun, DashboardSession, InstallationKey];
