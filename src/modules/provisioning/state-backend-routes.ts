import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../../config/index.ts';
import { type StateStore, acquireLock, forceUnlock, releaseLock } from '../state/index.ts';
import { errorResponses } from '../../shared/route-schemas.ts';
import { ConflictError, ValidationError } from '../../shared/errors.ts';
import { resourceOf } from './resources.ts';

const params = z.strictObject({ resourceId: z.string().min(1).max(100) });
const tags = ['terraform state backend'];
const lockedResponse = z.record(z.string(), z.unknown()).describe("The holder's lock JSON, as terraform expects");

/** terraform's LockInfo: ID, Operation, Info, Who, Version, Created, Path. Only ID matters to Skyloft. */
function parseLockInfo(body: unknown): Record<string, unknown> & { ID: string } {
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : '';
  let info: unknown;
  try {
    info = JSON.parse(text);
  } catch {
    throw new ValidationError('The lock body is not valid JSON');
  }
  if (typeof info !== 'object' || info === null || typeof (info as { ID?: unknown }).ID !== 'string' || !(info as { ID: string }).ID) {
    throw new ValidationError('The lock body needs an "ID" string');
  }
  return info as Record<string, unknown> & { ID: string };
}

const isEmpty = (body: unknown) => !Buffer.isBuffer(body) || body.length === 0;

/** A forgotten resource's state is kept as it was when it was forgotten: readable, never written, locked or deleted. */
async function writableResourceOf(...args: Parameters<typeof resourceOf>) {
  const resource = await resourceOf(...args);
  if (resource.status === 'forgotten') {
    throw new ConflictError(`Resource ${resource.id} is forgotten: its state versions are kept read-only (GET still works)`);
  }
  return resource;
}

/**
 * Terraform's `http` backend, one state per resource: GET, POST (?ID=<lock id>), DELETE, LOCK, UNLOCK.
 * Bodies are taken raw (state JSON up to SKYLOFT_STATE_MAX_BYTES) so the stored bytes are exactly what terraform
 * sent. Basic auth with an API key as password is accepted by the auth plugin.
 */
export function stateBackendRoutes(deps: { state: StateStore; config: Config }): FastifyPluginAsyncZod {
  const { state, config } = deps;
  return async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    app.get('/:resourceId', {
      config: { minRole: 'operator' },
      schema: { tags, summary: 'The newest state (204 when there is none)', params, response: { 200: z.unknown(), 204: z.null(), ...errorResponses } },
    }, async (req, reply) => {
      await resourceOf(req.em, req.actor.accountId, req.params.resourceId);
      const body = await state.latest(req.em, req.params.resourceId);
      if (!body) return reply.status(204).send(null);
      return reply.type('application/json').send(body);
    });

    app.post('/:resourceId', {
      config: { minRole: 'operator' },
      bodyLimit: config.stateMaxBytes,
      schema: {
        tags,
        summary: 'Store a new state version (refused: 409 lineage/serial conflict, 423 locked by another)',
        params,
        querystring: z.object({ ID: z.string().min(1).max(200).optional() }),
        response: { 200: z.object({ version: z.number() }), 423: lockedResponse, ...errorResponses },
      },
    }, async (req) => {
      await writableResourceOf(req.em, req.actor.accountId, req.params.resourceId);
      if (isEmpty(req.body)) throw new ValidationError('The state body is empty');
      const md5 = req.headers['content-md5'];
      const row = await state.write(req.em, {
        accountId: req.actor.accountId,
        resourceId: req.params.resourceId,
        body: req.body as Buffer,
        lockId: req.query.ID,
        holder: 'user',
        contentMd5: typeof md5 === 'string' ? md5 : undefined,
        userId: req.actor.userId,
      });
      return { version: row.version };
    });

    app.delete('/:resourceId', {
      config: { minRole: 'operator' },
      schema: { tags, summary: 'Delete every stored version of the state', params, response: { 200: z.object({ deleted: z.number() }), 423: lockedResponse, ...errorResponses } },
    }, async (req) => {
      await writableResourceOf(req.em, req.actor.accountId, req.params.resourceId);
      return { deleted: await state.removeAll(req.em, req.actor, req.params.resourceId) };
    });

    app.route({
      method: 'LOCK',
      url: '/:resourceId',
      config: { minRole: 'operator' },
      schema: { tags, summary: 'Take the state lock (423 with the holder when taken)', params, response: { 200: z.record(z.string(), z.unknown()), 423: lockedResponse, ...errorResponses } },
      handler: async (req) => {
        await writableResourceOf(req.em, req.actor.accountId, req.params.resourceId);
        const info = parseLockInfo(req.body);
        await acquireLock(req.em, {
          resourceId: req.params.resourceId,
          accountId: req.actor.accountId,
          lockId: info.ID,
          holder: 'user',
          info,
          ttlMs: config.userLockTtlMs,
          userId: req.actor.userId,
        });
        return info;
      },
    });

    app.route({
      method: 'UNLOCK',
      url: '/:resourceId',
      config: { minRole: 'operator' },
      schema: { tags, summary: 'Release the lock (an empty body force-unlocks, audited)', params, response: { 200: z.object({ unlocked: z.boolean() }), 423: lockedResponse, ...errorResponses } },
      handler: async (req) => {
        await resourceOf(req.em, req.actor.accountId, req.params.resourceId);
        // `terraform force-unlock` sends UNLOCK with no body.
        if (isEmpty(req.body)) return { unlocked: (await forceUnlock(req.em, req.actor, req.params.resourceId)) !== null };
        await releaseLock(req.em, req.params.resourceId, parseLockInfo(req.body).ID, 'user');
        return { unlocked: true };
      },
    });
  };
}
