import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { withTimeout } from '../shared/timeout.ts';
import type { AppDeps } from '../deps.ts';

const PROBE_TIMEOUT_MS = 2_000;

/** Liveness and readiness, unauthenticated so load balancers and orchestrators can call them. */
export function systemRoutes(deps: AppDeps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/healthz', { config: { public: true }, schema: { tags: ['system'], response: { 200: z.object({ status: z.literal('ok') }) } } }, async () => ({
      status: 'ok' as const,
    }));

    const checks = z.object({ postgres: z.enum(['ok', 'error']), redis: z.enum(['ok', 'error']) });
    app.get('/readyz', {
      config: { public: true },
      schema: { tags: ['system'], response: { 200: z.object({ status: z.literal('ready'), checks }), 503: z.object({ status: z.literal('unavailable'), checks, failed: z.array(z.string()) }) } },
    }, async (_req, reply) => {
      const [postgres, redis] = await Promise.all([
        withTimeout(deps.orm.em.getConnection().execute('select 1'), PROBE_TIMEOUT_MS, 'PostgreSQL').then(() => 'ok' as const, () => 'error' as const),
        withTimeout(deps.redis.ping(), PROBE_TIMEOUT_MS, 'Redis').then(() => 'ok' as const, () => 'error' as const),
      ]);
      const failed = Object.entries({ postgres, redis }).filter(([, v]) => v === 'error').map(([k]) => k);
      if (failed.length > 0) return reply.status(503).send({ status: 'unavailable' as const, checks: { postgres, redis }, failed });
      return { status: 'ready' as const, checks: { postgres, redis } };
    });
  };
}
