import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { SyncService } from './sync.ts';
import { errorResponses, idParam, nullableTime, page, pageQuery } from '../../shared/route-schemas.ts';
import { iso } from '../../shared/time.ts';
import type { SyncRun } from './entities.ts';
import { PROVIDERS } from '../credentials/index.ts';
import { RESOURCE_TYPES } from '../provisioning/index.ts';
import { freshness, inventoryCounts, listInventory } from './queries.ts';
import { INVENTORY_STATES } from './state.ts';

const itemSchema = z.object({
  id: z.string(),
  provider: z.string(),
  externalId: z.string(),
  name: z.string().nullable(),
  type: z.string(),
  kind: z.string(),
  region: z.string(),
  status: z.string().describe('As the adapter reports it: vms pending, running, stopping, stopped, terminated or unknown; storage and networks as each cloud says'),
  state: z.enum(INVENTORY_STATES).describe('One word across clouds and types, beside status'),
  metadata: z.record(z.string(), z.unknown()),
  tags: z.record(z.string(), z.string()),
  credentialId: z.string(),
  firstSeenAt: z.string(),
  lastSeenAt: z.string(),
  deletedAt: nullableTime,
  resourceId: z.string().nullable(),
  classification: z.enum(['managed', 'unmanaged', 'orphaned']),
});

const tags = ['inventory'];

export const inventoryRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('', {
    config: { minRole: 'viewer' },
    schema: {
      tags,
      summary: 'Inventory items, newest first; live ones unless include=deleted',
      querystring: z.strictObject({
        ...pageQuery,
        provider: z.enum(PROVIDERS).optional(),
        type: z.enum(RESOURCE_TYPES).optional(),
        region: z.string().max(100).optional(),
        status: z.string().max(50).optional(),
        state: z.enum(INVENTORY_STATES).optional(),
        credentialId: z.uuid().optional(),
        managed: z.enum(['true', 'false']).optional().describe('true: linked to a live managed resource'),
        include: z.literal('deleted').optional().describe('deleted: also tombstoned items, and the items of deleted credentials'),
      }),
      response: { 200: page(itemSchema), ...errorResponses },
    },
  }, async (req) => {
    const { limit, cursor, managed, include, ...filters } = req.query;
    return listInventory(req.em, req.actor.accountId, {
      ...filters,
      managed: managed === undefined ? undefined : managed === 'true',
      includeDeleted: include === 'deleted',
    }, { limit, cursor });
  });

  app.get('/summary', {
    config: { minRole: 'viewer' },
    schema: {
      tags,
      summary: 'Counts by provider, type and status, and the last complete sync of every (credential, region)',
      response: {
        200: z.object({
          counts: z.array(z.object({ provider: z.string(), type: z.string(), status: z.string(), count: z.number() })),
          freshness: z.array(z.object({ credentialId: z.string(), region: z.string(), lastCompleteSyncAt: nullableTime, stale: z.boolean() })),
        }),
        ...errorResponses,
      },
    },
  }, async (req) => ({
    counts: await inventoryCounts(req.em, req.actor.accountId),
    freshness: await freshness(req.em, req.actor.accountId),
  }));
};

const runSchema = z.object({
  id: z.string(),
  credentialId: z.string(),
  status: z.string(),
  scopesTotal: z.number(),
  scopesDone: z.number(),
  added: z.number(),
  updated: z.number(),
  deleted: z.number(),
  errors: z.array(z.object({ region: z.string(), kind: z.string(), error: z.string() })),
  startedAt: z.string(),
  finishedAt: nullableTime,
  durationMs: z.number().nullable(),
});

const runView = (r: SyncRun) => ({
  id: r.id,
  credentialId: r.credentialId,
  status: r.status,
  scopesTotal: r.scopesTotal,
  scopesDone: r.scopesDone,
  added: r.added,
  updated: r.updated,
  deleted: r.deleted,
  errors: r.errors,
  startedAt: iso(r.startedAt),
  finishedAt: iso(r.finishedAt),
  durationMs: r.finishedAt ? r.finishedAt.getTime() - r.startedAt.getTime() : null,
});

export function syncRoutes(deps: { sync: SyncService }): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/sync', {
      config: { minRole: 'operator' },
      schema: {
        tags,
        summary: 'Start a sync per credential (or join the one in progress)',
        body: z.strictObject({ credentialId: z.string().max(100).optional() }).optional(),
        response: { 202: z.object({ runIds: z.array(z.string()) }), ...errorResponses },
      },
    }, async (req, reply) => reply.status(202).send({ runIds: await deps.sync.start(req.em, req.actor, req.body?.credentialId) }));

    app.get('/runs', {
      config: { minRole: 'viewer' },
      schema: {
        tags,
        summary: 'Sync runs, newest first; those of deleted credentials with include=deleted',
        querystring: z.strictObject({ ...pageQuery, credentialId: z.uuid().optional(), include: z.literal('deleted').optional() }),
        response: { 200: page(runSchema), ...errorResponses },
      },
    }, async (req) => {
      const result = await deps.sync.listRuns(req.em, req.actor.accountId, req.query, req.query.credentialId, req.query.include === 'deleted');
      return { items: result.items.map(runView), nextCursor: result.nextCursor };
    });

    app.get('/runs/:id', {
      config: { minRole: 'viewer' },
      schema: { tags, summary: 'One sync run', params: idParam, response: { 200: runSchema, ...errorResponses } },
    }, async (req) => runView(await deps.sync.getRun(req.em, req.actor.accountId, req.params.id)));
  };
}
