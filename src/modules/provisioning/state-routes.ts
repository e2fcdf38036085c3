import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type StateStore, forceUnlock } from '../state/index.ts';
import { errorResponses, idParam } from '../../shared/route-schemas.ts';
import { iso } from '../../shared/time.ts';
import { resourceOf } from './resources.ts';

const tags = ['state'];
const versionSchema = z.object({
  version: z.number(),
  serial: z.number(),
  lineage: z.string(),
  sha256: z.string(),
  size: z.number(),
  operationId: z.string().nullable(),
  createdAt: z.string(),
});

/** A resource's state history, one decrypted version, and force-unlock. */
export function stateRoutes(deps: { state: StateStore }): FastifyPluginAsyncZod {
  const { state } = deps;
  return async (app) => {
    app.get('/:id/states', {
      config: { minRole: 'viewer' },
      schema: { tags, summary: 'State versions, newest first (no contents)', params: idParam, response: { 200: z.object({ items: z.array(versionSchema) }), ...errorResponses } },
    }, async (req) => {
      await resourceOf(req.em, req.actor.accountId, req.params.id);
      const rows = await state.list(req.em, req.params.id);
      return {
        items: rows.map((v) => ({
          version: v.version,
          serial: v.serial,
          lineage: v.lineage,
          sha256: v.sha256,
          size: v.size,
          operationId: v.operationId ?? null,
          createdAt: iso(v.createdAt),
        })),
      };
    });

    app.get('/:id/states/:version', {
      config: { minRole: 'operator' },
      schema: {
        tags,
        summary: 'One decrypted Terraform state (admin and operator only)',
        params: idParam.extend({ version: z.coerce.number().int().positive() }),
        response: { 200: z.unknown(), ...errorResponses },
      },
    }, async (req, reply) => {
      await resourceOf(req.em, req.actor.accountId, req.params.id);
      return reply.type('application/json').send(await state.read(req.em, req.params.id, req.params.version));
    });

    app.delete('/:id/lock', {
      config: { minRole: 'operator' },
      schema: {
        tags,
        summary: 'Force-unlock the state (audited)',
        params: idParam,
        response: { 200: z.object({ unlocked: z.boolean(), lockId: z.string().nullable() }), ...errorResponses },
      },
    }, async (req) => {
      await resourceOf(req.em, req.actor.accountId, req.params.id);
      const lock = await forceUnlock(req.em, req.actor, req.params.id);
      return { unlocked: lock !== null, lockId: lock?.lockId ?? null };
    });
  };
}
