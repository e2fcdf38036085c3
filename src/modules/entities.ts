import { Account, ApiKey, User } from './accounts/index.ts';
import { AuditLog } from './audit/index.ts';
import { Credential } from './credentials/index.ts';
import { IdempotencyKey, Operation, Resource } from './provisioning/index.ts';
import { StateLock, StateVersion } from './state/index.ts';
import { SyncRun, SyncScope } from './inventory/index.ts';
import { HealthCheck } from './health/index.ts';
import { AccountSchedule } from './schedules/index.ts';
import { CostRun } from './cost/index.ts';
import { DashboardSession } from './dashboard/index.ts';
import { InstallationKey } from './installation/index.ts';

/** The explicit entity list (no folder discovery). Each new module adds its entities here. */
export const entities = [Account, User, ApiKey, Credential, AuditLog, Resource, Operation, IdempotencyKey, StateVersion, StateLock, SyncRun, SyncScope, HealthCheck, AccountSchedule, CostRun, DashboardSession, InstallationKey];
