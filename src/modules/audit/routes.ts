import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses, page, pageQuery } from '../../shared/route-schemas.ts';
import { iso } from '../../shared/time.ts';
import type { AuditLog } from './entity.ts';
import { listAuditEvents } from './service.ts';

const eventSchema = z.object({
  id: z.string(),
  actor: z.object({ kind: z.string(), userId: z.string().nullable(), keyId: z.string().nullable() }),
  action: z.string(),
  entity: z.object({ type: z.string(), id: z.string().nullable() }),
  before: z.record(z.string(), z.unknown()).nullable(),
  after: z.record(z.string(), z.unknown()).nullable(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  requestId: z.string().nullable(),
  createdAt: z.string(),
});

const view = (e: AuditLog) => ({
  id: e.id,
  actor: { kind: e.actorKind, userId: e.actorUserId ?? null, keyId: e.actorKeyId ?? null },
  action: e.action,
  entity: { type: e.entityType, id: e.entityId ?? null },
  before: e.before ?? null,
  after: e.after ?? null,
  ip: e.ip ?? null,
  userAgent: e.userAgent ?? null,
  requestId: e.requestId ?? null,
  createdAt: iso(e.createdAt),
});

export const auditRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('', {
    config: { minRole: 'admin' },
    schema: {
      tags: ['audit'],
      summary: 'The audit log, newest first',
      querystring: z.strictObject({
        ...pageQuery,
        actor: z.uuid().optional().describe('A user id or an API key id'),
        action: z.string().max(100).optional().describe('e.g. credential.create'),
        entity: z.string().max(100).optional().describe('Entity type, e.g. credential'),
        entityId: z.string().max(100).optional(),
      }),
      response: { 200: page(eventSchema), ...errorResponses },
    },
  }, async (req) => {
    const { limit, cursor, ...filters } = req.query;
    const result = await listAuditEvents(req.em, req.actor.accountId, filters, { limit, cursor });
    return { items: result.items.map(view), nextCursor: result.nextCursor };
  });
};
