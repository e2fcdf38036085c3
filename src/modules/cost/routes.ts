import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { CostService } from './collect.ts';
import { errorResponses, idParam, nullableTime, page, pageQuery } from '../../shared/route-schemas.ts';
import { ValidationError } from '../../shared/errors.ts';
import { iso } from '../../shared/time.ts';
import { PROVIDERS } from '../credentials/index.ts';
import type { CostRun } from './entities.ts';
import { addDays, daysBetween, monthStart, today } from './days.ts';
import { MAX_RANGE_DAYS } from './collect.ts';
import { GROUP_BY, queryCosts, resourceCost } from './queries.ts';

const tags = ['cost'];
const day = z.iso.date().describe('YYYY-MM-DD (UTC)');
const amount = z.object({ currency: z.string(), amount: z.string().describe('decimal, as text') });

const runSchema = z.object({
  id: z.string(),
  credentialId: z.string(),
  trigger: z.string(),
  status: z.string(),
  from: z.string(),
  to: z.string(),
  daysFetched: z.number(),
  lines: z.number(),
  paidRequests: z.number(),
  notices: z.array(z.string()),
  error: z.string().nullable(),
  createdAt: z.string(),
  startedAt: nullableTime,
  finishedAt: nullableTime,
});

const runView = (r: CostRun) => ({
  id: r.id,
  credentialId: r.credentialId,
  trigger: r.trigger,
  status: r.status,
  from: r.rangeFrom,
  to: r.rangeTo,
  daysFetched: r.daysFetched,
  lines: r.lines,
  paidRequests: r.paidRequests,
  notices: r.notices,
  error: r.error ?? null,
  createdAt: iso(r.createdAt),
  startedAt: iso(r.startedAt),
  finishedAt: iso(r.finishedAt),
});

/** A query range: [from, to), both given or defaulted, in order and at most 13 months long. */
function queryRange(from: string | undefined, to: string | undefined, defaults: { from: string; to: string }) {
  const range = { from: from ?? defaults.from, to: to ?? defaults.to };
  if (range.from >= range.to) throw new ValidationError(`'from' (${range.from}) must be before 'to' (${range.to}); 'to' is exclusive`);
  if (daysBetween(range.from, range.to) > MAX_RANGE_DAYS) throw new ValidationError(`A range covers at most ${MAX_RANGE_DAYS} days (13 months)`);
  return range;
}

export function costRoutes(deps: { cost: CostService }): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('', {
      config: { minRole: 'viewer' },
      schema: {
        tags,
        summary: 'Actual cost over [from, to) grouped by provider, service, resource or day; totals per currency',
        querystring: z.strictObject({
          from: day.optional().describe('default: the first day of this month'),
          to: day.optional().describe('exclusive; default: tomorrow'),
          groupBy: z.enum(GROUP_BY).default('service'),
          provider: z.enum(PROVIDERS).optional(),
          credentialId: z.uuid().optional(),
          currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as USD').optional(),
          limit: z.coerce.number().int().min(1).max(10_000).default(1_000),
          include: z.literal('deleted').optional().describe('deleted: the cost of deleted credentials too (kept as history)'),
        }),
        response: {
          200: z.object({
            from: z.string(),
            to: z.string(),
            groupBy: z.enum(GROUP_BY),
            currency: z.string().nullable(),
            total: z.string().nullable(),
            totals: z.array(amount),
            groups: z.array(z.object({ key: z.string(), currency: z.string(), amount: z.string() })),
            truncated: z.boolean(),
          }),
          ...errorResponses,
        },
      },
    }, async (req) => {
      const { from, to, include, ...rest } = req.query;
      const range = queryRange(from, to, { from: monthStart(today()), to: addDays(today(), 1) });
      return queryCosts(req.em, req.actor.accountId, { ...range, ...rest, includeDeleted: include === 'deleted' });
    });

    app.post('/collect', {
      config: { minRole: 'operator' },
      schema: {
        tags,
        summary: 'Collect cost now, per credential, over [from, to) (default: the last few days); up to 13 months',
        body: z.strictObject({ credentialId: z.string().max(100).optional(), from: day.optional(), to: day.optional() }).optional(),
        response: { 202: z.object({ runIds: z.array(z.string()) }), ...errorResponses },
      },
    }, async (req, reply) => reply.status(202).send({ runIds: await deps.cost.request(req.em, req.actor, req.body ?? {}) }));

    app.get('/runs', {
      config: { minRole: 'viewer' },
      schema: {
        tags,
        summary: 'Cost collection runs, newest first; those of deleted credentials with include=deleted',
        querystring: z.strictObject({ ...pageQuery, credentialId: z.uuid().optional(), include: z.literal('deleted').optional() }),
        response: { 200: page(runSchema), ...errorResponses },
      },
    }, async (req) => {
      const result = await deps.cost.listRuns(req.em, req.actor.accountId, req.query, req.query.credentialId, req.query.include === 'deleted');
      return { items: result.items.map(runView), nextCursor: result.nextCursor };
    });

    app.get('/runs/:id', {
      config: { minRole: 'viewer' },
      schema: { tags, summary: 'One cost collection run', params: idParam, response: { 200: runSchema, ...errorResponses } },
    }, async (req) => runView(await deps.cost.getRun(req.em, req.actor.accountId, req.params.id)));
  };
}

/** GET /v1/resources/:id/cost, registered under /resources. */
export const resourceCostRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/:id/cost', {
    config: { minRole: 'viewer' },
    schema: {
      tags,
      summary: "A managed resource's daily cost series over [from, to) (default: the last 30 days) and month to date",
      params: idParam,
      querystring: z.strictObject({ from: day.optional(), to: day.optional() }),
      response: {
        200: z.object({
          resourceId: z.string(),
          externalIds: z.array(z.string()),
          from: z.string(),
          to: z.string(),
          days: z.array(z.object({ date: z.string(), currency: z.string(), amount: z.string() })),
          monthToDate: z.array(amount),
        }),
        ...errorResponses,
      },
    },
  }, async (req) => {
    const range = queryRange(req.query.from, req.query.to, { from: addDays(today(), -30), to: addDays(today(), 1) });
    return resourceCost(req.em, req.actor.accountId, req.params.id, range);
  });
};
