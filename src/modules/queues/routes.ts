import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppDeps } from '../../http/deps.ts';
import { errorBody, errorResponses } from '../../http/schemas.ts';
import { queueCounts } from '../../queue/counts.ts';

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
 * Every queue's job counts, shared by all accounts (the queues are the installation's, not an account's): a viewer
 * sees load, never a job's payload. Counts come straight from Redis, so 503 when it does not answer within 2 s.
 */
export function queueRoutes(deps: AppDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('', {
      config: { minRole: 'viewer' },
      schema: {
        tags: ['queues'],
        summary: 'Per queue: waiting, active, delayed, failed and completed jobs, and whether it is paused',
        response: { 200: z.object({ items: z.array(queueView) }), ...errorResponses, 503: errorBody },
      },
    }, async () => ({ items: await queueCounts(deps.queues, QUEUES_TIMEOUT_MS) }));
  };
}
