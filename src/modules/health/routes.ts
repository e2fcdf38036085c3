import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Em } from '../../db/orm.ts';
import type { HealthService } from './service.ts';
import { errorResponses, page, pageQuery } from '../../shared/route-schemas.ts';
import { iso } from '../../shared/time.ts';
import { sql } from 'kysely';
import { Credential, WITH_DELETED } from '../credentials/index.ts';
import { HEALTH_STATUSES, type HealthCheck } from './entity.ts';

const checkSchema = z.object({
  id: z.string(),
  credentialId: z.string(),
  provider: z.string(),
  status: z.enum(HEALTH_STATUSES),
  responseTimeMs: z.number().nullable(),
  throttled: z.boolean(),
  errorMessage: z.string().nullable(),
  checkedAt: z.string(),
});

const view = (c: HealthCheck, provider: string) => ({
  id: c.id,
  credentialId: c.credentialId,
  provider,
  status: c.status,
  responseTimeMs: c.responseTimeMs ?? null,
  throttled: c.throttled,
  errorMessage: c.errorMessage ?? null,
  checkedAt: iso(c.checkedAt),
});

const billingSchema = z.object({
  status: z.enum(['ok', 'error', 'unknown']).describe('from the latest finished cost collection: can this credential read billing data?'),
  error: z.string().nullable(),
  checkedAt: z.string().nullable(),
});

/** Billing access of each credential, as its latest finished cost collection found it. */
async function billingAccess(em: Em, accountId: string): Promise<Map<string, z.infer<typeof billingSchema>>> {
  const { rows } = await sql<{ credential_id: string; status: string; error: string | null; finished_at: Date }>`
    select distinct on (credential_id) credential_id, status, error, finished_at from cost_runs
     where account_id = ${accountId} and status in ('succeeded', 'failed') order by credential_id, id desc`.execute(em.getKysely());
  return new Map(rows.map((r) => [r.credential_id, { status: r.status === 'succeeded' ? 'ok' : 'error', error: r.error, checkedAt: iso(r.finished_at) }]));
}

export function healthRoutes(deps: { health: HealthService }): FastifyPluginAsyncZod {
  const tags = ['health'];
  // The checks were already chosen (deleted credentials' only when asked for): name each one's provider.
  const providers = async (em: Em, ids: string[]) =>
    new Map((await em.find(Credential, { id: { $in: ids } }, { ...WITH_DELETED, fields: ['id', 'provider'] })).map((c) => [c.id, c.provider as string]));
  const include = z.literal('deleted').optional().describe('deleted: deleted credentials too (their checks are kept as history)');
  return async (app) => {
    app.get('/providers', {
      config: { minRole: 'viewer' },
      schema: {
        tags,
        summary: "The latest check of every credential, with its billing access as the latest cost collection found it; deleted credentials' with include=deleted",
        querystring: z.strictObject({ include }),
        response: { 200: z.object({ items: z.array(checkSchema.extend({ billing: billingSchema })) }), ...errorResponses },
      },
    }, async (req) => {
      const latest = await deps.health.latest(req.em, req.actor.accountId, req.query.include === 'deleted');
      const byId = await providers(req.em, latest.map((c) => c.credentialId));
      const billing = await billingAccess(req.em, req.actor.accountId);
      const unknown = { status: 'unknown' as const, error: null, checkedAt: null };
      return { items: latest.map((c) => ({ ...view(c, byId.get(c.credentialId) ?? 'unknown'), billing: billing.get(c.credentialId) ?? unknown })) };
    });

    app.get('/providers/:credentialId/history', {
      config: { minRole: 'viewer' },
      schema: {
        tags,
        summary: "A credential's past checks, newest first",
        params: z.strictObject({ credentialId: z.string().min(1).max(100) }),
        querystring: z.strictObject({ ...pageQuery, include }),
        response: { 200: page(checkSchema), ...errorResponses },
      },
    }, async (req) => {
      const result = await deps.health.history(req.em, req.actor.accountId, req.params.credentialId, req.query, req.query.include === 'deleted');
      const byId = await providers(req.em, [req.params.credentialId]);
      return { items: result.items.map((c) => view(c, byId.get(c.credentialId) ?? 'unknown')), nextCursor: result.nextCursor };
    });

    app.post('/check', {
      config: { minRole: 'operator' },
      schema: {
        tags,
        summary: 'Check every credential now (or one)',
        body: z.strictObject({ credentialId: z.string().max(100).optional() }).optional(),
        response: { 202: z.object({ runIds: z.array(z.string()) }), ...errorResponses },
      },
    }, async (req, reply) => reply.status(202).send({ runIds: await deps.health.request(req.em, req.actor.accountId, req.body?.credentialId) }));
  };
}
