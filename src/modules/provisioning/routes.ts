import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ProvisioningService } from './service.ts';
import { errorResponses, idParam, nullableTime, page, pageQuery } from '../../shared/route-schemas.ts';
import { PROVIDERS } from '../credentials/index.ts';
import { OPERATION_KINDS, OPERATION_STATUSES, OPERATION_STEPS, RESOURCE_STATUSES, RESOURCE_TYPES } from './entities.ts';
import { ForbiddenError, ValidationError } from '../../shared/errors.ts';
import { forgetResource } from './forget.ts';
import { resourceOf } from './resources.ts';
import { operationView, resourceView } from './views.ts';

const resourceSchema = z.object({
  id: z.string(),
  name: z.string(),
  provider: z.enum(PROVIDERS),
  type: z.enum(RESOURCE_TYPES),
  region: z.string(),
  credentialId: z.string().nullable(),
  networkResourceId: z.string().nullable(),
  spec: z.record(z.string(), z.unknown()),
  status: z.enum(RESOURCE_STATUSES),
  outputs: z.record(z.string(), z.unknown()),
  drift: z.string().nullable(),
  destroyedAt: nullableTime,
  forgottenAt: nullableTime,
  createdAt: z.string(),
  updatedAt: z.string(),
});
const operationSchema = z.object({
  id: z.string(),
  resourceId: z.string(),
  kind: z.enum(OPERATION_KINDS),
  status: z.enum(OPERATION_STATUSES),
  step: z.enum(OPERATION_STEPS),
  autoApprove: z.boolean(),
  attempts: z.number(),
  error: z.string().nullable(),
  planSummary: z.object({ add: z.number(), change: z.number(), destroy: z.number() }).nullable(),
  approvedAt: nullableTime,
  cancelRequestedAt: nullableTime,
  createdAt: z.string(),
  startedAt: nullableTime,
  finishedAt: nullableTime,
});
const mutation = z.object({ resource: resourceSchema, operation: operationSchema });
const region = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a region name such as us-east-1');
const spec = z.record(z.string(), z.unknown()).describe('Per provider and type; see the README. A vm may name networkResourceId');

export function resourceRoutes(deps: { provisioning: ProvisioningService }): FastifyPluginAsyncZod {
  const service = deps.provisioning;
  return async (app) => {
    const tags = ['resources'];
    app.post('', {
      config: { minRole: 'operator' },
      schema: {
        tags,
        summary: 'Request a resource (202); provisioning runs in a worker',
        headers: z.object({ 'idempotency-key': z.string().min(1).max(255).optional() }),
        body: z.strictObject({
          name: z.string().trim().min(1).max(100),
          provider: z.enum(PROVIDERS),
          type: z.enum(RESOURCE_TYPES),
          region,
          credentialId: z.string().min(1).max(100),
          spec,
          autoApprove: z.boolean().optional(),
        }),
        response: { 202: mutation, 422: errorResponses[400], ...errorResponses },
      },
    }, async (req, reply) => {
      const { resource, operation } = await service.create(req.em, req.actor, req.body, req.headers['idempotency-key']);
      return reply.status(202).send({ resource: resourceView(resource), operation: operationView(operation) });
    });

    app.get('', {
      config: { minRole: 'viewer' },
      schema: {
        tags,
        summary: 'List resources, newest first; forgotten ones only with status=forgotten',
        querystring: z.strictObject({
          ...pageQuery,
          provider: z.enum(PROVIDERS).optional(),
          type: z.enum(RESOURCE_TYPES).optional(),
          status: z.enum(RESOURCE_STATUSES).optional().describe('unset: every status but forgotten'),
        }),
        response: { 200: page(resourceSchema), ...errorResponses },
      },
    }, async (req) => {
      const { limit, cursor, ...filters } = req.query;
      const result = await service.listResources(req.em, req.actor.accountId, { limit, cursor }, filters);
      return { items: result.items.map(resourceView), nextCursor: result.nextCursor };
    });

    app.get('/:id', {
      config: { minRole: 'viewer' },
      schema: { tags, summary: 'Read a resource', params: idParam, response: { 200: resourceSchema, ...errorResponses } },
    }, async (req) => resourceView(await resourceOf(req.em, req.actor.accountId, req.params.id)));

    app.patch('/:id', {
      config: { minRole: 'operator' },
      schema: {
        tags,
        summary: 'Change a resource through plan + apply (202)',
        params: idParam,
        body: z.strictObject({ spec, autoApprove: z.boolean().optional() }),
        response: { 202: mutation, 422: errorResponses[400], ...errorResponses },
      },
    }, async (req, reply) => {
      const { resource, operation } = await service.update(req.em, req.actor, req.params.id, req.body.spec, req.body.autoApprove);
      return reply.status(202).send({ resource: resourceView(resource), operation: operationView(operation) });
    });

    app.delete('/:id', {
      config: { minRole: 'operator' },
      schema: {
        tags,
        summary: 'Destroy a resource (202), or with forget=true (admin) stop managing it without touching the cloud (200)',
        description:
          'forget=true is `terraform state rm` for a Skyloft resource: its status becomes forgotten, nothing in the cloud changes, its ' +
          'state versions and operations are kept, it leaves the default lists (GET /v1/resources?status=forgotten lists it), ' +
          'no longer counts against quotas or keeps its credential alive, and its inventory items become unmanaged. Queued or waiting ' +
          'operations are canceled with it; a running operation or a held state lock answers 409 saying what to do. Audited; ' +
          'forgetting again answers the same resource.',
        params: idParam,
        querystring: z.strictObject({
          autoApprove: z.enum(['true', 'false']).optional().describe('destroy only'),
          forget: z.enum(['true', 'false']).optional().describe('true (admin): forget instead of destroy'),
        }),
        response: { 200: z.object({ resource: resourceSchema }), 202: mutation, 422: errorResponses[400], ...errorResponses },
      },
    }, async (req, reply) => {
      if (req.query.forget === 'true') {
        if (req.actor.role !== 'admin') throw new ForbiddenError(`Forgetting a resource needs the admin role; this key has ${req.actor.role}`);
        if (req.query.autoApprove !== undefined) {
          throw new ValidationError('autoApprove applies to a destroy; forget=true runs nothing to approve', [{ path: 'querystring.autoApprove', message: 'not with forget=true' }]);
        }
        return reply.status(200).send({ resource: resourceView(await forgetResource(req.em, req.actor, req.params.id)) });
      }
      const autoApprove = req.query.autoApprove === undefined ? undefined : req.query.autoApprove === 'true';
      const { resource, operation } = await service.destroy(req.em, req.actor, req.params.id, autoApprove);
      return reply.status(202).send({ resource: resourceView(resource), operation: operationView(operation) });
    });
  };
}

export function operationRoutes(deps: { provisioning: ProvisioningService }): FastifyPluginAsyncZod {
  const service = deps.provisioning;
  return async (app) => {
    const tags = ['operations'];
    app.get('', {
      config: { minRole: 'viewer' },
      schema: {
        tags,
        summary: 'List operations, newest first',
        querystring: z.strictObject({ ...pageQuery, resourceId: z.uuid().optional(), status: z.enum(OPERATION_STATUSES).optional() }),
        response: { 200: page(operationSchema), ...errorResponses },
      },
    }, async (req) => {
      const { limit, cursor, ...filters } = req.query;
      const result = await service.listOperations(req.em, req.actor.accountId, { limit, cursor }, filters);
      return { items: result.items.map(operationView), nextCursor: result.nextCursor };
    });

    app.get('/:id', {
      config: { minRole: 'viewer' },
      schema: { tags, summary: 'Read an operation', params: idParam, response: { 200: operationSchema, ...errorResponses } },
    }, async (req) => operationView(await service.getOperation(req.em, req.actor.accountId, req.params.id)));

    app.get('/:id/log', {
      config: { minRole: 'viewer' },
      schema: { tags, summary: "terraform's plan and apply output, secrets redacted", params: idParam, response: { 200: z.string(), ...errorResponses } },
    }, async (req, reply) => reply.type('text/plain; charset=utf-8').send(await service.operationLog(req.em, req.actor.accountId, req.params.id)));

    app.post('/:id/approve', {
      config: { minRole: 'operator' },
      schema: { tags, summary: 'Approve an operation waiting for approval', params: idParam, response: { 200: operationSchema, ...errorResponses } },
    }, async (req) => operationView(await service.approve(req.em, req.actor, req.params.id)));

    app.post('/:id/cancel', {
      config: { minRole: 'operator' },
      schema: { tags, summary: 'Cancel a queued, waiting or running operation', params: idParam, response: { 200: operationSchema, ...errorResponses } },
    }, async (req) => operationView(await service.cancel(req.em, req.actor, req.params.id)));
  };
}
