import { CronExpressionParser } from 'cron-parser';
import type { Em } from '../../db/orm.ts';
import type { Queues } from '../../queue/catalog.ts';
import { catalog } from '../../queue/catalog.ts';
import type { Actor } from '../../shared/actor.ts';
import { QuotaExceededError, ValidationError } from '../../shared/errors.ts';
import { recordAudit } from '../audit/index.ts';
import { Credential } from '../credentials/index.ts';
import { AccountSchedule, DEFAULT_SCHEDULE } from './entity.ts';

export type Schedule = typeof DEFAULT_SCHEDULE;

/** The shortest intervals an account may set (SKYLOFT_MIN_*): every credential multiplies what they cost. */
export interface ScheduleFloors {
  inventoryMinutes: number;
  healthMinutes: number;
  costIntervalMs: number;
}

const NO_FLOORS: ScheduleFloors = { inventoryMinutes: 1, healthMinutes: 1, costIntervalMs: 0 };

/**
 * The shortest gap between two firings of a cron expression (UTC, as the schedulers run it) over the next year, or
 * the first gap found below `stopBelowMs`. A year holds every month length and weekday alignment that matters; past
 * 10,000 firings (under 53 minutes apart on average) the rest repeats what was seen. Invalid or never-firing
 * expressions are refused (400) here rather than later by BullMQ.
 */
export function shortestCronGapMs(pattern: string, stopBelowMs: number): number {
  let shortest = Number.POSITIVE_INFINITY;
  try {
    const firings = CronExpressionParser.parse(pattern, { tz: 'UTC' });
    let previous = firings.next().getTime();
    const until = previous + 366 * 86_400_000;
    for (let step = 0; step < 10_000 && shortest >= stopBelowMs && previous < until && firings.hasNext(); step++) {
      const next = firings.next().getTime();
      shortest = Math.min(shortest, next - previous);
      previous = next;
    }
  } catch (e) {
    throw new ValidationError(`costCron "${pattern}" is not a cron expression that fires: ${(e as Error).message}`, [{ path: 'body.costCron', message: 'invalid cron expression' }]);
  }
  return shortest;
}

const schedulerIds = (credentialId: string) => ({ sync: `inventory_${credentialId}`, health: `health_${credentialId}`, cost: `cost_${credentialId}` });

/**
 * Each credential's repeatable inventory sync, health check and cost collection (a cron in UTC), as BullMQ job schedulers whose ids derive from the
 * credential: upserting one is idempotent, so restarts and several scheduler processes never duplicate a schedule.
 * The database (credentials + account_schedules) is the truth; `reconcile` makes Redis match it.
 */
export class ScheduleService {
  private readonly queues: Queues;
  private readonly floors: ScheduleFloors;

  constructor(queues: Queues, floors: ScheduleFloors = NO_FLOORS) {
    this.queues = queues;
    this.floors = floors;
  }

  /** The schedule that runs: what the account set, raised to the floors (a row stored before a floor existed). */
  async get(em: Em, accountId: string): Promise<Schedule> {
    const row = await em.findOne(AccountSchedule, { accountId });
    return this.effective(row ?? DEFAULT_SCHEDULE);
  }

  private effective(s: Schedule): Schedule {
    const { costIntervalMs } = this.floors;
    const costCron = costIntervalMs > 0 && shortestCronGapMs(s.costCron, costIntervalMs) < costIntervalMs ? DEFAULT_SCHEDULE.costCron : s.costCron;
    return {
      inventoryMinutes: Math.max(s.inventoryMinutes, this.floors.inventoryMinutes),
      healthMinutes: Math.max(s.healthMinutes, this.floors.healthMinutes),
      costCron,
    };
  }

  /** 422 quota_exceeded naming the floor and its variable when the patch asks for more often than the floors allow. */
  private assertFloors(patch: Partial<Schedule>): void {
    const floors = this.floors;
    for (const [field, variable] of [['inventoryMinutes', 'SKYLOFT_MIN_INVENTORY_MINUTES'], ['healthMinutes', 'SKYLOFT_MIN_HEALTH_MINUTES']] as const) {
      const asked = patch[field];
      if (asked !== undefined && asked < floors[field]) {
        throw new QuotaExceededError(`${field} must be at least ${floors[field]} on this installation (${variable}); got ${asked}`, { quota: field, limit: floors[field], variable });
      }
    }
    if (patch.costCron === undefined) return;
    const gap = shortestCronGapMs(patch.costCron, floors.costIntervalMs);
    if (gap < floors.costIntervalMs) {
      const minutes = floors.costIntervalMs / 60_000;
      throw new QuotaExceededError(
        `costCron "${patch.costCron}" fires ${Math.round(gap / 60_000)} minutes apart; collections may run at most every ${minutes} minutes on this installation (SKYLOFT_MIN_COST_INTERVAL): each one makes paid billing API calls`,
        { quota: 'costIntervalMinutes', limit: minutes, variable: 'SKYLOFT_MIN_COST_INTERVAL' },
      );
    }
  }

  async update(em: Em, actor: Actor, patch: Partial<Schedule>): Promise<Schedule> {
    this.assertFloors(patch);
    const before = await this.get(em, actor.accountId);
    const next = { ...before, ...patch };
    await em.upsert(AccountSchedule, { accountId: actor.accountId, ...next, updatedBy: actor.userId });
    recordAudit(em, actor, { action: 'schedules.update', entityType: 'account', entityId: actor.accountId, before, after: next });
    await em.flush();
    for (const c of await em.find(Credential, { accountId: actor.accountId }, { fields: ['id', 'accountId'] })) await this.upsertFor(c, next);
    return next;
  }

  /** Registers (or updates) one credential's schedulers; their jobs carry the credential's account (see catalog.ts). */
  async upsertFor(credential: { id: string; accountId: string }, schedule: Schedule): Promise<void> {
    const ids = schedulerIds(credential.id);
    const data = { credentialId: credential.id, accountId: credential.accountId };
    const sync = catalog['scheduled-sync'];
    const health = catalog['scheduled-health'];
    const cost = catalog['scheduled-cost'];
    await this.queues.get(sync.queue).upsertJobScheduler(ids.sync, { every: schedule.inventoryMinutes * 60_000 }, {
      name: 'scheduled-sync',
      data,
      opts: this.queues.keep,
    });
    await this.queues.get(health.queue).upsertJobScheduler(ids.health, { every: schedule.healthMinutes * 60_000 }, {
      name: 'scheduled-health',
      data,
      opts: this.queues.keep,
    });
    await this.queues.get(cost.queue).upsertJobScheduler(ids.cost, { pattern: schedule.costCron, tz: 'UTC' }, {
      name: 'scheduled-cost',
      data,
      opts: this.queues.keep,
    });
  }

  async removeFor(credentialId: string): Promise<void> {
    const ids = schedulerIds(credentialId);
    await this.queues.get(catalog['scheduled-sync'].queue).removeJobScheduler(ids.sync);
    await this.queues.get(catalog['scheduled-health'].queue).removeJobScheduler(ids.health);
    await this.queues.get(catalog['scheduled-cost'].queue).removeJobScheduler(ids.cost);
  }

  /** Makes Redis match the database: a scheduler per live credential with its account's intervals, none for others. */
  async reconcile(em: Em): Promise<{ upserted: number; removed: number }> {
    const credentials = await em.find(Credential, {}, { fields: ['id', 'accountId'] });
    // Once per account, not per credential: each is one walk through its cron's firings.
    const schedules = new Map((await em.find(AccountSchedule, {})).map((s) => [s.accountId, this.effective(s)]));
    const fallback = this.effective(DEFAULT_SCHEDULE);
    for (const c of credentials) await this.upsertFor(c, schedules.get(c.accountId) ?? fallback);
    const live = new Set(credentials.flatMap((c) => Object.values(schedulerIds(c.id))));
    let removed = 0;
    for (const queue of [catalog['scheduled-sync'].queue, catalog['scheduled-health'].queue, catalog['scheduled-cost'].queue]) {
      for (const scheduler of await this.queues.get(queue).getJobSchedulers(0, -1)) {
        if (!live.has(scheduler.key)) {
          await this.queues.get(queue).removeJobScheduler(scheduler.key);
          removed++;
        }
      }
    }
    return { upserted: credentials.length, removed };
  }
}
