import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Queues } from '../../queue/catalog.ts';
import { errorBody, errorResponses } from '../../shared/route-schemas.ts';
import { accountJobs } from '../../queue/account-jobs.ts';

/** How long GET /v1/queues waits for Redis before answering 503. */
export const QUEUES_TIMEOUT_MS = 2_000;

const count = z.number().int().min(0);
const queueView = z.object({
  name: z.string(),
  waiting: count,
  active: count,
  delayed: count,
  failed: count,
  completed: count,
  paused: z.boolean(),
});

/**
 * Per queue, the caller's own account's jobs by state (the queues are shared by every account; another account's
 * jobs are neither counted nor shown: src/queue/account-jobs.ts, which also says how and how fresh), and whether the
 * queue is paused. Read from Redis, so 503 when it does not answer within 2 s.
 */
export function queueRoutes(deps: { queues: Queues }): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('', {
      config: { minRole: 'viewer' },
      schema: {
        tags: ['queues'],
        summary: "Per queue: your account's waiting, active, delayed, failed and completed jobs, and whether the queue is paused",
        response: { 200: z.object({ items: z.array(queueView) }), ...errorResponses, 503: errorBody },
      },
    }, async (req) => ({ items: await accountJobs(deps.queues).counts(req.actor.accountId, QUEUES_TIMEOUT_MS) }));
  };
}
