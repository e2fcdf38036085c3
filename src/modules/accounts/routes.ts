import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorBody, errorResponses, idParam, nullableTime, page, pageQuery } from '../../shared/route-schemas.ts';
import { apiKeyView, createOwnApiKey, issueApiKeyFor, listApiKeys, revokeApiKey } from './api-keys.ts';
import { Account, ROLE_NAMES, User } from './entities.ts';
import { createUser, deleteUser, listUsers, updateUser, userView } from './users.ts';

const role = z.enum(ROLE_NAMES);
const userSchema = z.object({
  id: z.string(),
  email: z.string(),
  role,
  active: z.boolean(),
  deletedAt: nullableTime,
  createdAt: z.string(),
  updatedAt: z.string(),
});
const apiKeySchema = z.object({
  id: z.string(),
  userId: z.string(),
  name: z.string(),
  role,
  prefix: z.string(),
  expiresAt: nullableTime,
  revokedAt: nullableTime,
  lastUsedAt: nullableTime,
  createdAt: z.string(),
});
const createdKeySchema = apiKeySchema.extend({ key: z.string().describe('The API key itself: shown once, never again') });

const newKeyBody = z.strictObject({
  name: z.string().trim().min(1).max(100),
  role: role.optional().describe('Defaults to your own role; may be lower, never higher'),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
});
const keyInput = (body: z.infer<typeof newKeyBody>) => ({
  name: body.name,
  role: body.role,
  expiresAt: body.expiresAt ? new Date(body.expiresAt) : undefined,
});

const tags = ['accounts'];

export const meRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/me', {
    config: { minRole: 'viewer' },
    schema: {
      tags,
      summary: 'Who this API key belongs to',
      response: {
        200: z.object({
          user: userSchema,
          account: z.object({ id: z.string(), name: z.string(), createdAt: z.string() }),
          role: role.describe('The effective role: the lower of the key\'s and the user\'s'),
          apiKeyId: z.string(),
        }),
        ...errorResponses,
      },
    },
  }, async (req) => {
    const user = await req.em.findOneOrFail(User, { id: req.actor.userId! });
    const account = await req.em.findOneOrFail(Account, { id: req.actor.accountId });
    return {
      user: userView(user),
      account: { id: account.id, name: account.name, createdAt: account.createdAt.toISOString() },
      role: req.actor.role,
      apiKeyId: req.actor.keyId!,
    };
  });
};

export const userRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post('', {
    config: { minRole: 'admin' },
    schema: {
      tags,
      summary: 'Add a user; the answer holds its first API key (shown once)',
      body: z.strictObject({ email: z.email().max(320), role }),
      response: { 201: userSchema.extend({ apiKey: createdKeySchema }), ...errorResponses },
    },
  }, async (req, reply) => {
    const { user, apiKey, key } = await createUser(req.em, req.actor, req.body);
    return reply.status(201).send({ ...userView(user), apiKey: { ...apiKeyView(apiKey), key } });
  });

  app.get('', {
    config: { minRole: 'admin' },
    schema: { tags, summary: 'List users', querystring: z.strictObject(pageQuery), response: { 200: page(userSchema), ...errorResponses } },
  }, async (req) => {
    const result = await listUsers(req.em, req.actor.accountId, req.query);
    return { items: result.items.map(userView), nextCursor: result.nextCursor };
  });

  app.patch('/:id', {
    config: { minRole: 'admin' },
    schema: {
      tags,
      summary: 'Change a user\'s role or active flag (deactivating revokes its keys)',
      params: idParam,
      body: z.strictObject({ role: role.optional(), active: z.boolean().optional() }),
      response: { 200: userSchema, ...errorResponses },
    },
  }, async (req) => userView(await updateUser(req.em, req.actor, req.params.id, req.body)));

  app.post('/:id/api-keys', {
    config: { minRole: 'admin' },
    schema: {
      tags,
      summary: 'Issue an API key for a user of the account (at most 5 active); the key is shown once',
      description: 'For a user whose keys were revoked (deactivating a user revokes every key it holds; reactivating gives none back). ' +
        'A deactivated or deleted user answers 409; a role above the user\'s answers 422.',
      params: idParam,
      body: newKeyBody.extend({ role: role.optional().describe('Defaults to the user\'s role; may be lower, never higher') }),
      response: { 201: createdKeySchema, 422: errorBody, ...errorResponses },
    },
  }, async (req, reply) => {
    const { apiKey, key } = await issueApiKeyFor(req.em, req.actor, req.params.id, keyInput(req.body));
    return reply.status(201).send({ ...apiKeyView(apiKey), key });
  });

  app.delete('/:id', {
    config: { minRole: 'admin' },
    schema: { tags, summary: 'Deactivate and soft-delete a user; its keys are revoked', params: idParam, response: { 200: userSchema, ...errorResponses } },
  }, async (req) => userView(await deleteUser(req.em, req.actor, req.params.id)));
};

export const apiKeyRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post('', {
    config: { minRole: 'viewer' },
    schema: {
      tags,
      summary: 'Create an API key for yourself (at most 5 active); the key is shown once',
      body: newKeyBody,
      response: { 201: createdKeySchema, ...errorResponses },
    },
  }, async (req, reply) => {
    const { apiKey, key } = await createOwnApiKey(req.em, req.actor, keyInput(req.body));
    return reply.status(201).send({ ...apiKeyView(apiKey), key });
  });

  app.get('', {
    config: { minRole: 'viewer' },
    schema: {
      tags,
      summary: 'List your API keys (admins: any user\'s, with userId)',
      querystring: z.strictObject({ ...pageQuery, userId: z.uuid().optional() }),
      response: { 200: page(apiKeySchema), ...errorResponses },
    },
  }, async (req) => {
    const result = await listApiKeys(req.em, req.actor, req.query.userId, req.query);
    return { items: result.items.map(apiKeyView), nextCursor: result.nextCursor };
  });

  app.delete('/:id', {
    config: { minRole: 'viewer' },
    schema: { tags, summary: 'Revoke an API key (your own; admins: any in the account)', params: idParam, response: { 200: apiKeySchema, ...errorResponses } },
  }, async (req) => apiKeyView(await revokeApiKey(req.em, req.actor, req.params.id)));
};
