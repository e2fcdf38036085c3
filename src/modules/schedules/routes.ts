import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ScheduleService } from './service.ts';
import { errorResponses } from '../../shared/route-schemas.ts';

const minutes = z.number().int().min(1).max(10_080);
// Five cron fields (minute hour day-of-month month day-of-week), digits and * , - / only.
const cron = z.string().regex(/^(\S+\s+){4}\S+$/, 'must be a five-field cron expression').regex(/^[\d*,\-/\s]+$/, 'may hold digits and * , - / only');
const schedule = z.object({ inventoryMinutes: minutes, healthMinutes: minutes, costCron: z.string() });

export function scheduleRoutes(deps: { schedules: ScheduleService }): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('', {
      config: { minRole: 'viewer' },
      schema: { tags: ['schedules'], summary: "The account's schedule intervals", response: { 200: schedule, ...errorResponses } },
    }, async (req) => deps.schedules.get(req.em, req.actor.accountId));

    app.put('', {
      config: { minRole: 'operator' },
      schema: {
        tags: ['schedules'],
        summary: 'Change the intervals; every credential of the account is rescheduled',
        body: z.strictObject({ inventoryMinutes: minutes.optional(), healthMinutes: minutes.optional(), costCron: cron.optional() }),
        response: { 200: schedule, ...errorResponses },
      },
    }, async (req) => deps.schedules.update(req.em, req.actor, req.body));
  };
}
