import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';

let ctx: TestContext;
let key: string;
let awsId: string;

const AWS = { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY' };

beforeAll(async () => {
  ctx = await createTestContext();
  key = (await ctx.bootstrap()).apiKey;
  const seeded = await post('/v1/credentials', { name: 'taken', provider: 'aws', secret: AWS });
  expect(seeded.statusCode).toBe(201);
  awsId = seeded.json().id;
});
afterAll(() => ctx.close());

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH';
const send = (method: Method, url: string, payload?: string | object, headers: Record<string, string> = {}) =>
  ctx.app.inject({ method, url, headers: { ...bearer(key), ...headers }, ...(payload !== undefined && { payload }) });
const post = (url: string, payload: string | object, headers?: Record<string, string>) => send('POST', url, payload, headers);

const sql = <T>(q: string, params: unknown[] = []) => ctx.orm.em.getConnection().execute<T[]>(q, params);
/** Rows in every table a refused request could have written to. */
async function counts() {
  const [row] = await sql<Record<string, string>>(
    'select (select count(*) from credentials) c, (select count(*) from audit_logs) a, (select count(*) from users) u, (select count(*) from api_keys) k',
  );
  return row;
}

/** The contract error shape, and no stack trace or internal detail anywhere in it. */
function expectErrorShape(res: LightMyRequestResponse, status: number, code?: string) {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json();
  expect(Object.keys(body).sort()).toEqual(['error', 'requestId']);
  expect(body.requestId).toBe(res.headers['x-request-id']);
  expect(Object.keys(body.error).every((k) => ['code', 'message', 'details'].includes(k))).toBe(true);
  expect(body.error.code).toEqual(code ?? expect.any(String));
  expect(body.error.message).toEqual(expect.any(String));
  expect(res.body).not.toMatch(/\bat .+:\d+:\d+|stack|node_modules|\.ts\b/);
  return body.error as { code: string; message: string; details?: { path: string; message: string }[] };
}

/** Sends the request and checks its error answer, and that it wrote nothing. */
async function refused(status: number, request: () => Promise<LightMyRequestResponse>, code?: string) {
  const before = await counts();
  const res = await request();
  const error = expectErrorShape(res, status, code);
  expect(await counts()).toEqual(before);
  return error;
}
const paths = (e: { details?: { path: string }[] }) => (e.details ?? []).map((d) => d.path);

const valid = { name: 'fresh', provider: 'sandbox', secret: {} };
const JSON_CT = { 'content-type': 'application/json' };

describe('POST /v1/credentials refuses bad input and writes nothing', () => {
  it('answers 400 malformed_json for a body that is not JSON', async () => {
    await refused(400, () => post('/v1/credentials', '{"name": "x",', JSON_CT), 'malformed_json');
  });

  it('answers 400 for an empty body sent as JSON', async () => {
    await refused(400, () => post('/v1/credentials', '', JSON_CT));
  });

  it.each(['text/plain', 'application/xml', 'application/x-www-form-urlencoded'])('answers 415 for Content-Type %s', async (type) => {
    await refused(415, () => post('/v1/credentials', JSON.stringify(valid), { 'content-type': type }), 'unsupported_media_type');
  });

  it('answers 413 for a body over 1 MiB', async () => {
    const big = { ...valid, options: { pad: 'x'.repeat(1024 * 1024) } };
    await refused(413, () => post('/v1/credentials', big), 'payload_too_large');
  });

  it('answers 400 for an unknown top-level field and names it', async () => {
    const e = await refused(400, () => post('/v1/credentials', { ...valid, colour: 'red' }), 'validation_failed');
    expect(JSON.stringify(e.details)).toContain('colour');
  });

  it('answers 400 naming each field of the wrong type (name: 5, regions: "x")', async () => {
    const e = await refused(400, () => post('/v1/credentials', { ...valid, name: 5, regions: 'x' }), 'validation_failed');
    expect(paths(e)).toEqual(expect.arrayContaining(['body.name', 'body.regions']));
  });

  it('answers 400 for an unknown provider', async () => {
    const e = await refused(400, () => post('/v1/credentials', { ...valid, provider: 'digitalocean' }), 'validation_failed');
    expect(paths(e)).toContain('body.provider');
  });

  it.each([
    ['aws without secretAccessKey', 'aws', { accessKeyId: 'AKIA' }, ['secret.secretAccessKey']],
    ['aws assume-role with accessKeyId but no secretAccessKey', 'aws', { roleArn: 'arn:aws:iam::1:role/r', accessKeyId: 'AKIA' }, ['secret.secretAccessKey']],
    ['aws with an empty secretAccessKey', 'aws', { accessKeyId: 'AKIA', secretAccessKey: '' }, ['secret.secretAccessKey']],
    ['aws with a numeric accessKeyId', 'aws', { accessKeyId: 5, secretAccessKey: 's' }, ['secret.accessKeyId']],
    ['azure with only tenantId', 'azure', { tenantId: 't' }, ['secret.clientId', 'secret.clientSecret', 'secret.subscriptionId']],
    ['gcp without projectId', 'gcp', { serviceAccountJson: '{}' }, ['secret.projectId']],
    ['an unknown field inside an aws secret', 'aws', { ...AWS, region: 'us-east-1' }, ['secret.region']],
    ['an unknown field inside a sandbox secret', 'sandbox', { token: 'x' }, ['secret.token']],
  ])('answers 400 for %s, naming the fields in details', async (_label, provider, secret, expected) => {
    const e = await refused(400, () => post('/v1/credentials', { name: 'bad-secret', provider, secret }), 'validation_failed');
    expect(paths(e)).toEqual(expect.arrayContaining(expected));
    expect(JSON.stringify(e)).not.toContain(AWS.secretAccessKey);
  });

  it('answers 409 for a duplicate name', async () => {
    await refused(409, () => post('/v1/credentials', { ...valid, name: 'taken' }), 'conflict');
  });

  it('answers one 201 and otherwise 409 (never 500) when the same name is created concurrently', async () => {
    for (let round = 0; round < 5; round++) {
      const name = `race-${round}`;
      const results = await Promise.all(Array.from({ length: 6 }, () => post('/v1/credentials', { ...valid, name })));
      for (const r of results.filter((x) => x.statusCode !== 201)) expectErrorShape(r, 409, 'conflict');
      expect(results.filter((r) => r.statusCode === 201)).toHaveLength(1);
    }
  });

  it('answers 400, not 500, for a NUL character the database cannot store', async () => {
    await refused(400, () => post('/v1/credentials', { ...valid, name: 'nul\u0000name' }));
    await refused(400, () => post('/v1/credentials', { ...valid, name: 'nul-options', options: { note: 'a\u0000b' } }));
  });

  it('answers 401, not 400, for a bad key even when the body is also bad', async () => {
    await refused(401, () => ctx.app.inject({ method: 'POST', url: '/v1/credentials', headers: { authorization: 'Bearer nope', ...JSON_CT }, payload: '{' }), 'unauthorized');
  });
});

describe('other routes refuse bad input the same way', () => {
  it.each([
    ['/v1/credentials?limit=501'],
    ['/v1/credentials?limit=0'],
    ['/v1/credentials?limit=ten'],
    ['/v1/users?limit=501'],
    ['/v1/audit-events?limit=1000'],
    ['/v1/credentials?colour=red'],
    ['/v1/api-keys?colour=red'],
    ['/v1/audit-events?colour=red'],
    ['/v1/credentials?cursor=not-a-cursor'],
  ])('GET %s answers 400', async (url) => {
    await refused(400, () => send('GET', url), 'validation_failed');
  });

  it('POST /v1/users answers 400 for malformed JSON, 415 for text/plain and 400 for an unknown field', async () => {
    await refused(400, () => post('/v1/users', '{"email":', JSON_CT), 'malformed_json');
    await refused(415, () => post('/v1/users', 'x@example.com', { 'content-type': 'text/plain' }), 'unsupported_media_type');
    await refused(400, () => post('/v1/users', { email: 'x@example.com', role: 'viewer', admin: true }), 'validation_failed');
    const e = await refused(400, () => post('/v1/users', { email: 'not-an-email', role: 'root' }), 'validation_failed');
    expect(paths(e)).toEqual(expect.arrayContaining(['body.email', 'body.role']));
  });

  it('POST /v1/api-keys answers 400 for a wrong type, an unknown field and a bad date', async () => {
    await refused(400, () => post('/v1/api-keys', { name: 7 }), 'validation_failed');
    await refused(400, () => post('/v1/api-keys', { name: 'k', scope: 'all' }), 'validation_failed');
    await refused(400, () => post('/v1/api-keys', { name: 'k', expiresAt: 'tomorrow' }), 'validation_failed');
  });

  it('PATCH /v1/users/:id answers 400 for an unknown role and writes nothing', async () => {
    const id = (await sql<{ id: string }>('select id from users limit 1'))[0]!.id;
    await refused(400, () => send('PATCH', `/v1/users/${id}`, { role: 'superuser' }), 'validation_failed');
  });
});

describe('PUT /v1/credentials/:id/secret', () => {
  const stored = async () =>
    (await sql<{ ct: string; at: Date }>('select encode(secret_ciphertext, \'hex\') ct, secret_updated_at at from credentials where id = ?', [awsId]))[0];

  it.each([
    ['a missing secretAccessKey', { secret: { accessKeyId: 'AKIANEW' } }, 'secret.secretAccessKey'],
    ['an azure shape for an aws credential', { secret: { tenantId: 't', clientId: 'c', clientSecret: 's', subscriptionId: 'x' } }, 'secret.accessKeyId'],
    ['a secret that is not an object', { secret: 'AKIA:secret' }, 'body.secret'],
    ['an unknown top-level field', { secret: AWS, provider: 'gcp' }, undefined],
  ])('answers 400 for %s and leaves the stored ciphertext unchanged', async (_label, body, path) => {
    const before = await stored();
    const e = await refused(400, () => send('PUT', `/v1/credentials/${awsId}/secret`, body), 'validation_failed');
    if (path) expect(paths(e)).toContain(path);
    expect(await stored()).toEqual(before);
  });
});

describe('5xx answers', () => {
  it('carry no stack trace or internal message, and the log keeps the error under the same request id', async () => {
    await sql('alter table credentials rename to credentials_hidden');
    let res: LightMyRequestResponse;
    try {
      res = await post('/v1/credentials', { ...valid, name: 'during-outage' });
    } finally {
      await sql('alter table credentials_hidden rename to credentials');
    }
    expect(res.statusCode).toBe(500);
    expectErrorShape(res, 500, 'internal_error');
    expect(res.json().error).toEqual({ code: 'internal_error', message: 'Internal error', details: null });
    expect(res.body).not.toContain('credentials');
    const logged = ctx.logs.find((l) => l.includes(res.json().requestId) && l.includes('"stack"'));
    expect(logged).toBeDefined();
  });
});
