import type { Em } from '../../db/orm.ts';
import type { Queues } from '../../queue/catalog.ts';
import { catalog } from '../../queue/catalog.ts';
import type { Actor } from '../../shared/actor.ts';
import { recordAudit } from '../audit/service.ts';
import { Credential } from '../credentials/entity.ts';
import { AccountSchedule, DEFAULT_SCHEDULE } from './entity.ts';

export type Schedule = typeof DEFAULT_SCHEDULE;

const schedulerIds = (credentialId: string) => ({ sync: `inventory_${credentialId}`, health: `health_${credentialId}`, cost: `cost_${credentialId}` });

/**
 * Each credential's repeatable inventory sync, health check and cost collection (a cron in UTC), as BullMQ job schedulers whose ids derive from the
 * credential: upserting one is idempotent, so restarts and several scheduler processes never duplicate a schedule.
 * The database (credentials + account_schedules) is the truth; `reconcile` makes Redis match it.
 */
export class ScheduleService {
  private readonly queues: Queues;

  constructor(queues: Queues) {
    this.queues = queues;
  }

  async get(em: Em, accountId: string): Promise<Schedule> {
    const row = await em.findOne(AccountSchedule, { accountId });
    return row ? { inventoryMinutes: row.inventoryMinutes, healthMinutes: row.healthMinutes, costCron: row.costCron } : { ...DEFAULT_SCHEDULE };
  }

  async update(em: Em, actor: Actor, patch: Partial<Schedule>): Promise<Schedule> {
    const before = await this.get(em, actor.accountId);
    const next = { ...before, ...patch };
    await em.upsert(AccountSchedule, { accountId: actor.accountId, ...next, updatedBy: actor.userId });
    recordAudit(em, actor, { action: 'schedules.update', entityType: 'account', entityId: actor.accountId, before, after: next });
    await em.flush();
    for (const c of await em.find(Credential, { accountId: actor.accountId }, { fields: ['id'] })) await this.upsertFor(c.id, next);
    return next;
  }

  /** Registers (or updates) one credential's schedulers. */
  async upsertFor(credentialId: string, schedule: Schedule): Promise<void> {
    const ids = schedulerIds(credentialId);
    const sync = catalog['scheduled-sync'];
    const health = catalog['scheduled-health'];
    const cost = catalog['scheduled-cost'];
    await this.queues.get(sync.queue).upsertJobScheduler(ids.sync, { every: schedule.inventoryMinutes * 60_000 }, {
      name: 'scheduled-sync',
      data: { credentialId },
      opts: this.queues.keep,
    });
    await this.queues.get(health.queue).upsertJobScheduler(ids.health, { every: schedule.healthMinutes * 60_000 }, {
      name: 'scheduled-health',
      data: { credentialId },
      opts: this.queues.keep,
    });
    await this.queues.get(cost.queue).upsertJobScheduler(ids.cost, { pattern: schedule.costCron, tz: 'UTC' }, {
      name: 'scheduled-cost',
      data: { credentialId },
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
    const schedules = new Map((await em.find(AccountSchedule, {})).map((s) => [s.accountId, s]));
    for (const c of credentials) {
      const s = schedules.get(c.accountId);
      await this.upsertFor(c.id, s ? { inventoryMinutes: s.inventoryMinutes, healthMinutes: s.healthMinutes, costCron: s.costCron } : DEFAULT_SCHEDULE);
    }
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
