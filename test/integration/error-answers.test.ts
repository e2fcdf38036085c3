import { randomBytes, randomUUID } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInstallationKey } from '../../src/modules/installation/keys.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';

/**
 * Every error answer is `{error: {code, message, details}, requestId}` with `details` always present: null when there
 * is nothing to add. Checked over the statuses and the places that build them (the auth gate, the router, the
 * not-found handler, the body parser, the rate limiter, the services' own errors, the dashboard's API, /metrics).
 */
let ctx: TestContext;
let limited: TestContext;
let admin: { apiKey: string; userId: string };
let viewer: { id: string; email: string; key: string };
let installationKey: string;

beforeAll(async () => {
  ctx = await createTestContext({ SKYLOFT_RATE_LIMIT: '1000000' });
  limited = await createTestContext({ SKYLOFT_RATE_LIMIT: '2' });
  admin = await ctx.bootstrap();
  const email = `v-${randomBytes(3).toString('hex')}@example.com`;
  const res = await ctx.app.inject({ method: 'POST', url: '/v1/users', headers: bearer(admin.apiKey), payload: { email, role: 'viewer' } });
  viewer = { id: res.json().id, email, key: res.json().apiKey.key };
  installationKey = (await createInstallationKey(ctx.orm.em.fork(), 'errors')).key;
});
afterAll(async () => {
  await ctx?.close();
  await limited?.close();
});

const id = () => randomUUID();
const as = (key: string, req: InjectOptions): InjectOptions => ({ ...req, headers: { ...bearer(key), ...req.headers } });

/** [label, expected status, details (null, or 'some' for a non-null value), the request] */
const CASES: [string, number, null | 'some', () => InjectOptions][] = [
  ['no key on /v1/me', 401, null, () => ({ url: '/v1/me' })],
  ['no key on an unknown /v1 path', 401, null, () => ({ url: '/v1/nothing-here' })],
  ['an unknown key on POST /v1/credentials', 401, null, () => as(`sky_${'A'.repeat(36)}`, { method: 'POST', url: '/v1/credentials', payload: {} })],
  ['a malformed Authorization header', 401, null, () => ({ url: '/v1/resources', headers: { authorization: 'Bearer nope' } })],
  ['no session on the dashboard API', 401, null, () => ({ url: '/admin/queues/api/queues' })],
  ['a viewer adding a user', 403, null, () => as(viewer.key, { method: 'POST', url: '/v1/users', payload: { email: 'x@example.com', role: 'viewer' } })],
  ['a viewer issuing a key for a user', 403, null, () => as(viewer.key, { method: 'POST', url: `/v1/users/${admin.userId}/api-keys`, payload: { name: 'x' } })],
  ['an installation key on an account route', 403, null, () => as(installationKey, { url: '/v1/me' })],
  ['an account key on /metrics', 403, null, () => as(admin.apiKey, { url: '/metrics' })],
  ['an unknown route', 404, null, () => ({ url: '/no/such/page' })],
  ['an unknown /v1 path with a key', 404, null, () => as(admin.apiKey, { url: '/v1/nothing-here' })],
  ['an unknown credential', 404, null, () => as(admin.apiKey, { url: `/v1/credentials/${id()}` })],
  ['an unknown resource', 404, null, () => as(admin.apiKey, { url: `/v1/resources/${id()}` })],
  ['an unknown operation', 404, null, () => as(admin.apiKey, { method: 'POST', url: `/v1/operations/${id()}/approve` })],
  ['an unknown user', 404, null, () => as(admin.apiKey, { method: 'PATCH', url: `/v1/users/${id()}`, payload: { role: 'viewer' } })],
  ['an unknown API key', 404, null, () => as(admin.apiKey, { method: 'DELETE', url: `/v1/api-keys/${id()}` })],
  ['demoting the last admin', 409, null, () => as(admin.apiKey, { method: 'PATCH', url: `/v1/users/${admin.userId}`, payload: { role: 'viewer' } })],
  ['an email already in use', 409, null, () => as(admin.apiKey, { method: 'POST', url: '/v1/users', payload: { email: viewer.email, role: 'viewer' } })],
  ['a key name already in use', 409, null, () => as(admin.apiKey, { method: 'POST', url: `/v1/users/${viewer.id}/api-keys`, payload: { name: 'default' } })],
  ['an invalid body', 400, 'some', () => as(admin.apiKey, { method: 'POST', url: '/v1/api-keys', payload: { name: 5 } })],
  ['a body that is not JSON', 400, null, () => as(admin.apiKey, { method: 'POST', url: '/v1/api-keys', payload: '{"name":', headers: { 'content-type': 'application/json' } })],
  ['broken percent-encoding', 400, null, () => as(admin.apiKey, { url: '/v1/credentials/%E0%A4%A' })],
  ['a role above the user\'s', 422, null, () => as(admin.apiKey, { method: 'POST', url: `/v1/users/${viewer.id}/api-keys`, payload: { name: 'r', role: 'admin' } })],
  ['a body over 1 MiB', 413, null, () => as(admin.apiKey, { method: 'POST', url: '/v1/api-keys', payload: { name: 'x'.repeat(1024 * 1024 + 1) } })],
  ['a text/plain body', 415, null, () => as(admin.apiKey, { method: 'POST', url: '/v1/api-keys', payload: 'name=x', headers: { 'content-type': 'text/plain' } })],
];

function expectShape(res: LightMyRequestResponse, status: number, details: null | 'some') {
  expect(res.statusCode, res.body).toBe(status);
  const body = res.json();
  expect(Object.keys(body).sort()).toEqual(['error', 'requestId']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'details', 'message']);
  if (details === null) expect(body.error.details).toBeNull();
  else expect(body.error.details).not.toBeNull();
  expect(body.requestId).toBe(res.headers['x-request-id']);
}

describe('every error answer', () => {
  it.each(CASES)('carries details (null when there is nothing to add): %s → %i', async (_label, status, details, req) => {
    expectShape(await ctx.app.inject(req()), status, details);
  });

  it('carries details on a 429 from the rate limiter too, with Retry-After', async () => {
    const { apiKey } = await limited.bootstrap();
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await limited.app.inject(as(apiKey, { url: '/v1/me' })));
    const refused = answers.at(-1)!;
    expectShape(refused, 429, null);
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
  });

  it('declares details in the OpenAPI document\'s error schema as always present', async () => {
    const doc = (await ctx.app.inject({ url: '/openapi.json' })).json();
    const error = doc.paths['/v1/me'].get.responses['401'].content['application/json'].schema.properties.error;
    expect(error.required).toEqual(expect.arrayContaining(['code', 'message', 'details']));
  });
});
