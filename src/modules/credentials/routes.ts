import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Em } from '../../db/orm.ts';
import { errorResponses, idParam, nullableTime, page, pageQuery } from '../../shared/route-schemas.ts';
import { ForbiddenError } from '../../shared/errors.ts';
import { PROVIDERS } from './entity.ts';
import { withTimeout } from '../../shared/timeout.ts';
import { credentialView, type CredentialService } from './service.ts';

const provider = z.enum(PROVIDERS);
const region = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a region name such as us-east-1, westeurope or europe-west1');
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
const endpoints = z
  .strictObject({
    api: httpUrl.optional().describe('Cloud API base URL (sovereign clouds, LocalStack-style emulators)'),
    authorityHost: httpUrl.optional().describe('Azure only: the Microsoft Entra authority host'),
  })
  .describe('Optional endpoint overrides; each must match SKYLOFT_ALLOWED_ENDPOINTS (local mode also allows loopback), and link-local or cloud metadata addresses are always refused');
const secret = z
  .record(z.string(), z.unknown())
  .describe(
    'aws {accessKeyId, secretAccessKey, sessionToken?} or {roleArn, externalId?, accessKeyId, secretAccessKey}, or {roleArn} ' +
      'alone where SKYLOFT_AWS_HOST_IDENTITY allows it (the host\'s identity, Skyloft\'s ExternalId); ' +
      'azure {tenantId, clientId, clientSecret, subscriptionId}; gcp {serviceAccountJson (a service account key file\'s content), projectId}; sandbox {}',
  );

const credentialSchema = z.object({
  id: z.string(),
  name: z.string(),
  provider,
  region: z.string().nullable(),
  regions: z.array(z.string()).nullable(),
  endpoints: z.object({ api: z.string().optional(), authorityHost: z.string().optional() }),
  options: z.record(z.string(), z.unknown()),
  secretUpdatedAt: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  deletedAt: nullableTime.describe('set once deleted: its secret is wiped, its history kept (include=deleted)'),
});
const includeDeleted = z.literal('deleted').optional().describe('deleted: deleted credentials too (their history is kept)');

const tags = ['credentials'];

type CredentialRef = { id: string; accountId: string };

/** What the credential routes use: their service, and what other modules start for a new or removed credential. */
export interface CredentialRouteDeps {
  credentials: CredentialService;
  health: { enqueue(credential: CredentialRef): Promise<unknown> };
  cost: {
    windowFor(trigger: 'backfill'): { from: string; to: string };
    start(em: Em, credential: CredentialRef, trigger: 'backfill', range: { from: string; to: string }, userId: string | null): Promise<unknown>;
  };
  schedules: {
    get(em: Em, accountId: string): Promise<unknown>;
    upsertFor(credential: CredentialRef, schedule: unknown): Promise<void>;
    removeFor(credentialId: string): Promise<void>;
  };
}

export function credentialRoutes(deps: CredentialRouteDeps): FastifyPluginAsyncZod {
  const service = deps.credentials;
  return async (app) => {
    app.post('', {
      config: { minRole: 'operator' },
      schema: {
        tags,
        summary: 'Register a cloud credential; the secret is encrypted and never returned',
        body: z.strictObject({
          name: z.string().trim().min(1).max(100),
          provider,
          region: region.optional(),
          regions: z.array(region).min(1).max(64).refine((r) => new Set(r).size === r.length, 'must not repeat a region').optional(),
          endpoints: endpoints.optional(),
          options: z.record(z.string(), z.unknown()).optional().describe('Provider settings, e.g. GCP {billingDataset, billingTable}'),
          secret,
        }),
        response: { 201: credentialSchema, ...errorResponses },
      },
    }, async (req, reply) => {
      const credential = await service.create(req.em, req.actor, req.body);
      await deps.health.enqueue(credential); // the contract: a health check is queued at once
      await deps.cost.start(req.em, credential, 'backfill', deps.cost.windowFor('backfill'), req.actor.userId);
      // Best effort: the scheduler role's reconcile registers it within a minute if Redis is away now.
      await withTimeout(deps.schedules.get(req.em, req.actor.accountId).then((s) => deps.schedules.upsertFor(credential, s)), 2_000, 'Redis').catch(
        (err: unknown) => req.log.warn({ err }, 'could not register the credential\'s schedules yet'),
      );
      return reply.status(201).send(credentialView(credential));
    });

    app.get('', {
      config: { minRole: 'viewer' },
      schema: {
        tags,
        summary: 'List credentials; deleted ones with include=deleted',
        querystring: z.strictObject({ ...pageQuery, provider: provider.optional(), include: includeDeleted }),
        response: { 200: page(credentialSchema), ...errorResponses },
      },
    }, async (req) => {
      const result = await service.list(req.em, req.actor.accountId, req.query, { provider: req.query.provider, includeDeleted: req.query.include === 'deleted' });
      return { items: result.items.map(credentialView), nextCursor: result.nextCursor };
    });

    // Static, so it is matched before '/:id'.
    app.get('/aws-external-id', {
      config: { minRole: 'viewer' },
      schema: {
        tags,
        summary: 'The ExternalId Skyloft sends when it assumes this account\'s AWS roles with its own identity (SKYLOFT_AWS_HOST_IDENTITY): put it in the roles\' trust policies',
        response: { 200: z.object({ externalId: z.string() }), ...errorResponses },
      },
    }, async (req) => ({ externalId: await service.awsExternalId(req.em, req.actor.accountId) }));

    app.get('/:id', {
      config: { minRole: 'viewer' },
      schema: {
        tags,
        summary: 'Read a credential (never its secret); a deleted one answers 404 unless include=deleted',
        params: idParam,
        querystring: z.strictObject({ include: includeDeleted }),
        response: { 200: credentialSchema, ...errorResponses },
      },
    }, async (req) => credentialView(await service.get(req.em, req.actor.accountId, req.params.id, req.query.include === 'deleted')));

    app.delete('/:id', {
      config: { minRole: 'operator' },
      schema: {
        tags,
        summary: 'Delete a credential (its secret is wiped, its history kept); purge=true (admin) also removes its history for good',
        description:
          'A delete is soft: the credential is never used again (no schedule, sync, check, collection or new resource: 422) and its ' +
          'secret is wiped, but its inventory items, cost lines and health checks stay readable with include=deleted. 409 while it ' +
          'manages live resources (destroy or forget them first). Deleting again answers 204 and changes nothing. ' +
          'purge=true (admin, audited) deletes it if needed, then removes that history and the credential for good, in short batches; ' +
          'it also works on a credential already deleted.',
        params: idParam,
        querystring: z.strictObject({ purge: z.enum(['true', 'false']).optional() }),
        response: { 204: z.null(), ...errorResponses },
      },
    }, async (req, reply) => {
      if (req.query.purge === 'true') {
        if (req.actor.role !== 'admin') throw new ForbiddenError(`Purging a credential's history needs the admin role; this key has ${req.actor.role}`);
        const purged = await service.purge(req.em, req.actor, req.params.id);
        req.log.info({ credentialId: req.params.id, purged }, 'credential purged with its history');
      } else {
        await service.remove(req.em, req.actor, req.params.id);
      }
      await withTimeout(deps.schedules.removeFor(req.params.id), 2_000, 'Redis').catch((err: unknown) =>
        req.log.warn({ err }, 'could not remove the credential\'s schedules yet'),
      );
      return reply.status(204).send(null);
    });

    app.put('/:id/secret', {
      config: { minRole: 'operator' },
      schema: {
        tags,
        summary: 'Rotate a credential\'s secret',
        params: idParam,
        body: z.strictObject({ secret }),
        response: { 200: credentialSchema, ...errorResponses },
      },
    }, async (req) => {
      const credential = await service.rotateSecret(req.em, req.actor, req.params.id, req.body.secret);
      await deps.health.enqueue(credential);
      return credentialView(credential);
    });
  };
}
