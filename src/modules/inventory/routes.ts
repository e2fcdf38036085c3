import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses, nullableTime, page, pageQuery } from '../../http/schemas.ts';
import { PROVIDERS } from '../credentials/entity.ts';
import { RESOURCE_TYPES } from '../provisioning/entities.ts';
import { freshness, inventoryCounts, listInventory } from './queries.ts';

const itemSchema = z.object({
  id: z.string(),
  provider: z.string(),
  externalId: z.string(),
  name: z.string().nullable(),
  type: z.string(),
  kind: z.string(),
  region: z.string(),
  status: z.string(),
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
        credentialId: z.uuid().optional(),
        managed: z.enum(['true', 'false']).optional().describe('true: linked to a live managed resource'),
        include: z.literal('deleted').optional().describe('deleted: also tombstoned items'),
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
          freshness: z.array(z.object({ credentialId: z.string(), region: z.string(), lastCompleteSyncAt: z.string() })),
        }),
        ...errorResponses,
      },
    },
  }, async (req) => ({
    counts: await inventoryCounts(req.em, req.actor.accountId),
    freshness: await freshness(req.em, req.actor.accountId),
  }));
};
