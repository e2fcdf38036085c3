import { existsSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/runtime.ts';
import { startWorkers } from '../../workers/index.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';

/**
 * Hostile input (issue 7). Part one: property-based fuzzing (fast-check) of every operation the OpenAPI document
 * lists (plus /metrics and the dashboard sign-in), at least 10,000 requests: bodies, queries and path parameters
 * from random JSON, wrong types, unicode/NUL/control characters, huge numbers, and each route's own schema with one
 * field mutated. Every answer is below 500 and, when 4xx, in the contract's error shape; a batch of requests that
 * were all refused (and any batch of reads) leaves every table's row count and the installation's Redis keys as
 * they were. Part two: the cases no generator finds (deep nesting, huge bodies, invalid UTF-8, prototype
 * pollution, SQL/shell metacharacters in names, path traversal, header injection, a 100 MB body, slow-loris).
 */

// ---------------------------------------------------------------------------------------------------------------
// The app under test, and what the fuzzer may aim at.

let ctx: TestContext;
let key: string;
let selfUserId: string;
/** Ids of real objects, so some fuzzed requests reach past the 404 into the handlers. Never the caller's own user or key. */
const pool = { credential: [] as string[], resource: [] as string[], operation: [] as string[], user: [] as string[], apiKey: [] as string[], syncRun: [] as string[], costRun: [] as string[] };
const prototypeBefore = snapshotPrototype();

function snapshotPrototype() {
  return Object.getOwnPropertyNames(Object.prototype).sort().map((k) => `${k}:${typeof (Object.prototype as Record<string, unknown>)[k]}`);
}

const send = (method: string, url: string, payload?: unknown, headers: Record<string, string> = {}) =>
  ctx.app.inject({ method: method as 'GET', url, headers: { ...bearer(key), ...headers }, ...(payload !== undefined && { payload: payload as string }) });

const VALID_STATE = (lineage: string, serial: number) =>
  JSON.stringify({ version: 4, terraform_version: '1.9.0', serial, lineage, outputs: {}, resources: [], check_results: null });

beforeAll(async () => {
  // The fuzzer sends thousands of requests with one key: lift the rate limit (429 is tested elsewhere).
  ctx = await createTestContext({ SKYLOFT_RATE_LIMIT: '100000000', LOG_LEVEL: 'info' });
  const boot = await ctx.bootstrap();
  key = boot.apiKey;
  selfUserId = boot.userId;
  const cred = await send('POST', '/v1/credentials', { name: 'fuzz-sandbox', provider: 'sandbox', secret: {} });
  expect(cred.statusCode, cred.body).toBe(201);
  pool.credential.push(cred.json().id);
  for (let i = 0; i < 2; i++) {
    const res = await send('POST', '/v1/resources', { name: `fuzz-${i}`, provider: 'sandbox', type: 'vm', region: 'local', credentialId: cred.json().id, spec: { size: 'small' } });
    expect(res.statusCode, res.body).toBe(202);
    pool.resource.push(res.json().resource.id);
    pool.operation.push(res.json().operation.id);
  }
  const state = await send('POST', `/v1/terraform/state/${pool.resource[0]}`, VALID_STATE('6d1c3c2e-4b7e-4f6a-9a53-0a0c7a3f1e11', 1), { 'content-type': 'application/json' });
  expect(state.statusCode, state.body).toBe(200);
  const user = await send('POST', '/v1/users', { email: 'victim@example.com', role: 'viewer' });
  expect(user.statusCode, user.body).toBe(201);
  pool.user.push(user.json().id ?? user.json().user?.id);
  const apiKey = await send('POST', '/v1/api-keys', { name: 'spare' });
  expect(apiKey.statusCode, apiKey.body).toBe(201);
  pool.apiKey.push(apiKey.json().id);
  const sync = await send('POST', '/v1/inventory/sync', {});
  pool.syncRun.push(...(sync.json().runIds ?? []));
  const cost = await send('POST', '/v1/costs/collect', {});
  pool.costRun.push(...(cost.json().runIds ?? []));
  expect(pool.user[0]).toEqual(expect.any(String));
  expect(pool.user).not.toContain(selfUserId);
}, 60_000);

afterAll(async () => {
  await ctx?.close();
});

// ---------------------------------------------------------------------------------------------------------------
// What "wrote nothing" means: the row count of every table, and the installation's Redis keys.

let tables: string[] | undefined;
const sql = <T>(q: string, params: unknown[] = []) => ctx.orm.em.getConnection().execute<T[]>(q, params);

async function snapshot(c: TestContext = ctx): Promise<{ rows: Record<string, number>; keys: string[] }> {
  tables ??= (
    await sql<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' and table_name not like 'mikro_orm%' order by 1",
    )
  ).map((r) => r.table_name);
  const [row] = await c.orm.em
    .getConnection()
    .execute<Record<string, string>[]>(`select ${tables.map((t) => `(select count(*) from "${t}") as "${t}"`).join(', ')}`);
  const rows = Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, Number(v)]));
  const prefix = c.config.redis.prefix;
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await c.deps.redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0');
  // Every authenticated request counts itself against its key's rate limit (and once a minute marks the key used):
  // that is the limiter's bookkeeping, written before the request is even parsed, not something the request asked for.
  return { rows, keys: keys.filter((k) => !k.startsWith(`${prefix}:rate:`) && !k.startsWith(`${prefix}:key-used:`)).sort() };
}

// ---------------------------------------------------------------------------------------------------------------
// The contract's error shape.

function describeReq(r: Req) {
  const p = r.payload === undefined ? '' : ` payload=${JSON.stringify(String(r.payload).slice(0, 300))}`;
  return `${r.method} ${r.url.slice(0, 300)} ${JSON.stringify(r.headers)}${p}`;
}

function checkAnswer(res: LightMyRequestResponse, what: string) {
  expect(res.statusCode, `${what}\n→ ${res.statusCode} ${res.body.slice(0, 500)}`).toBeLessThan(500);
  expect(res.body, what).not.toMatch(/\n\s+at .+:\d+:\d+|node_modules|\/src\/.+\.ts\b/);
  if (res.statusCode < 400 || res.statusCode === 423) return; // 423: the holder's lock JSON, as terraform expects
  // The dashboard's sign-in is an HTML form for browsers: it answers pages, not the API's JSON errors.
  if (what.includes(' /admin/') && String(res.headers['content-type']).startsWith('text/html')) return;
  expect(res.headers['content-type'], what).toMatch(/^application\/json/);
  const body = res.json();
  expect(Object.keys(body).sort(), `${what}\n→ ${res.body.slice(0, 300)}`).toEqual(['error', 'requestId']);
  expect(body.requestId, what).toBe(res.headers['x-request-id']);
  expect(typeof body.error.code, what).toBe('string');
  expect(typeof body.error.message, what).toBe('string');
  expect(Object.keys(body.error).every((k) => ['code', 'message', 'details'].includes(k)), what).toBe(true);
}

// ---------------------------------------------------------------------------------------------------------------
// Generators.

const HOSTILE = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\u0001\u0002\u0003\u0007\b\t\n\u000b\f\r\u001b[31m\u007f',
  '\r\nX-Injected: 1',
  '\ud800',
  '\udfff\ud800',
  '\ufeff\ufffe\uffff',
  '\u202e\u2066evil',
  '𝕏💥👩‍👩‍👧‍👦',
  "x'; drop table users; --",
  "' or '1'='1",
  '"; select pg_sleep(5); --',
  '\\',
  '%',
  '%00',
  '%s%n%x',
  '$(touch /tmp/pwned)',
  '`id`',
  '; rm -rf / #',
  '| cat /etc/passwd',
  '../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '${jndi:ldap://127.0.0.1/a}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'NaN',
  'Infinity',
  '-0',
  'null',
  'true',
  '1e309',
  'sky_' + 'a'.repeat(36),
  'a'.repeat(101),
  'x'.repeat(5000),
  '2026-02-30',
  '9999-99-99T99:99:99Z',
];

/** Any string worth sending: random unicode, control characters, lone surrogates, the list above. */
const hostileString = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)), maxLength: 10 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 4 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
);

/** Numbers JSON can carry but JavaScript and PostgreSQL may not: written raw into the body text. */
const RAW = '\ue000raw:';
const HUGE_NUMBERS = ['1e999', '-1e999', '123456789012345678901234567890', '9007199254740993', '1.0000000000000000000001', '-0', '0.0', '1E2', '4.9e-324', '2147483648', '-2147483649', '18446744073709551616'];
const hugeNumber = fc.oneof(
  fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 63, -(2 ** 63), 5e-324, 0.5, -1, 0),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(...HUGE_NUMBERS).map((n) => `${RAW}${n}`),
);

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: hostileString },
  { weight: 2, arbitrary: hugeNumber },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, [], {}, [null], { '': '' }) },
  { weight: 1, arbitrary: fc.dictionary(hostileString, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 4 }) },
);

/** JSON text of a value, with the raw-number markers turned into the numbers themselves. */
function toJson(value: unknown): string {
  return JSON.stringify(value).replace(/"\ue000raw:([^"]*)"/g, '$1');
}

type Schema = {
  type?: string | string[];
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  maxItems?: number;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  default?: unknown;
};

function idPool(name: string): string[] {
  const n = name.toLowerCase();
  if (n.includes('credential')) return pool.credential;
  if (n.includes('resource') || n.includes('network')) return pool.resource;
  if (n.includes('operation')) return pool.operation;
  if (n === 'userid' || n === 'actor') return pool.user;
  return [...pool.credential, ...pool.resource, ...pool.operation];
}

const isoDate = fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));

/** A value the schema accepts (mostly: cross-field rules such as a provider's secret are the handlers' business). */
function valid(schema: Schema, name = ''): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.anyOf ?? schema.oneOf) return fc.oneof(...(schema.anyOf ?? schema.oneOf)!.map((s) => valid(s, name)));
  if (name === 'costCron') return fc.constantFrom('0 2 * * *', '*/5 * * * *', '0 0 1 * *');
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'string': {
      if (/id$/i.test(name) || name === 'actor') {
        const ids = idPool(name);
        return ids.length > 0 ? fc.oneof(fc.constantFrom(...ids), fc.uuid()) : fc.uuid();
      }
      if (schema.format === 'date') return isoDate;
      if (schema.format === 'date-time') return fc.date({ min: new Date('2020-01-01'), max: new Date('2200-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
      if (schema.format === 'email') return fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/).map((l) => `${l}@example.com`);
      if (schema.format === 'uri') return fc.constantFrom('http://127.0.0.1:4566', 'https://login.example.com/');
      if (schema.format === 'uuid') return fc.uuid();
      if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern));
      return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 30, 30) });
    }
    case 'integer':
    case 'number': {
      const min = schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : (schema.minimum ?? -1000);
      return fc.integer({ min: Math.max(min, -1e9), max: Math.min(schema.maximum ?? 1e9, 1e9) });
    }
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(valid(schema.items ?? {}, name), { minLength: schema.minItems ?? 0, maxLength: Math.max(schema.minItems ?? 0, Math.min(schema.maxItems ?? 3, 3)) });
    case 'object': {
      if (!schema.properties) {
        // Free-form (a sandbox spec, options, a secret): empty, or any small JSON object.
        return fc.oneof(fc.constant({}), fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }));
      }
      const required = new Set(schema.required ?? []);
      const shape: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, s] of Object.entries(schema.properties)) shape[k] = valid(s, k);
      return fc.record(shape, { requiredKeys: [...required] });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** The schema's value with one field removed, retyped, replaced by something hostile, or one unknown field added. */
function mutated(schema: Schema): fc.Arbitrary<unknown> {
  const base = valid(schema);
  const keys = Object.keys(schema.properties ?? {});
  return fc
    .tuple(base, fc.nat(), fc.constantFrom('remove', 'replace', 'replace', 'replace', 'add', 'nest'), anyValue, hostileString)
    .map(([value, pick, how, replacement, newKey]) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return replacement;
      const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
      const field = keys.length > 0 ? keys[pick % keys.length]! : newKey;
      if (how === 'remove') delete out[field];
      else if (how === 'replace') out[field] = replacement;
      else if (how === 'nest') out[field] = { [newKey]: replacement };
      else Object.defineProperty(out, newKey || 'x', { value: replacement, enumerable: true, writable: true, configurable: true });
      return out;
    });
}

const CONTENT_TYPES = ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'application/jsonx', '*/*', 'application/json\u0000', ';;;'];

/** What to put in a path segment: real ids, uuids, hostile text (encoded), and raw traversal and broken escapes. */
function segment(name: string, poolIds: string[], schema: Schema): fc.Arbitrary<string> {
  const raw = ['..', '.', '%2e%2e', '..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..%252f..%252fetc%252fpasswd', '%c0%ae%c0%ae%c0%af', '%', '%zz', '%00', '%0d%0aX-Injected:%201', '%ff%fe', '....%2F%2F', 'a'.repeat(101), 'a'.repeat(3000)];
  const parts: fc.Arbitrary<string>[] = [
    fc.constantFrom(...raw),
    hostileString.filter((s) => s.length > 0).map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '?'))),
    fc.uuid(),
  ];
  if (poolIds.length > 0) parts.push(fc.constantFrom(...poolIds));
  if (schema.type === 'integer') parts.push(fc.oneof(fc.integer().map(String), fc.constantFrom(...HUGE_NUMBERS, '1', '0', '-1', '1.5', '0x10', 'NaN')));
  return fc.oneof(...parts);
}

interface Param {
  name: string;
  in: 'path' | 'query' | 'header';
  schema: Schema;
}
interface Route {
  method: string;
  path: string;
  params: Param[];
  body?: Schema;
  raw?: boolean;
}
interface Req {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

function poolFor(route: Route, param: string): string[] {
  if (param === 'credentialId') return pool.credential;
  if (param === 'resourceId') return pool.resource;
  if (param === 'version') return ['1'];
  const p = route.path;
  if (p.startsWith('/v1/users')) return pool.user;
  if (p.startsWith('/v1/api-keys')) return pool.apiKey;
  if (p.startsWith('/v1/credentials')) return pool.credential;
  if (p.startsWith('/v1/resources')) return pool.resource;
  if (p.startsWith('/v1/operations')) return pool.operation;
  if (p.startsWith('/v1/inventory/runs')) return pool.syncRun;
  if (p.startsWith('/v1/costs/runs')) return pool.costRun;
  return [];
}

function queryString(route: Route): fc.Arbitrary<string> {
  const known = route.params.filter((p) => p.in === 'query');
  const pair = (k: string, v: fc.Arbitrary<unknown>) => v.map((x) => `${encodeURIComponent(k)}=${encodeURIComponent(String(x).replace(/[\ud800-\udfff]/g, '?'))}`);
  const parts: fc.Arbitrary<string>[] = [
    fc.constantFrom('__proto__[polluted]=1', 'constructor[prototype][polluted]=1', '__proto__=1', 'constructor=x', 'limit=1&limit=2', 'limit[]=1', 'a=%', '%zz=1', 'limit=%00', '=&&=', 'cursor=' + 'c'.repeat(5000), 'x' + '&x'.repeat(300)),
    pair('junk', hostileString),
  ];
  for (const p of known) {
    parts.push(pair(p.name, valid(p.schema, p.name)), pair(p.name, valid(p.schema, p.name)), pair(p.name, fc.oneof(hostileString, hugeNumber.map(String))));
  }
  return fc.array(fc.oneof(...parts), { maxLength: 4 }).map((xs) => (xs.length > 0 ? `?${xs.join('&')}` : ''));
}

function bodyFor(route: Route): fc.Arbitrary<{ payload?: string; contentType?: string }> {
  const json = (v: fc.Arbitrary<unknown>, weight: number) => ({ weight, arbitrary: v.map((x) => ({ payload: toJson(x), contentType: 'application/json' })) });
  const garbage = fc.oneof(
    hostileString,
    fc.constantFrom('{', '{"a":', '[1,]', '{"a":1}}', "{'a':1}", 'nul', 'NaN', '{"a":NaN}', '{"a":1e999}', '\ufeff{}', '{"a":"\\ud800"}', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}'),
  );
  const options: { weight: number; arbitrary: fc.Arbitrary<{ payload?: string; contentType?: string }> }[] = [
    json(fc.jsonValue({ maxDepth: 3 }), 2),
    { weight: 1, arbitrary: garbage.map((payload) => ({ payload, contentType: 'application/json' })) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...CONTENT_TYPES), fc.jsonValue({ maxDepth: 2 })).map(([contentType, v]) => ({ payload: toJson(v), contentType })) },
  ];
  if (route.body) options.push(json(valid(route.body), 3), json(mutated(route.body), 7));
  else if (route.raw) options.push(json(fc.jsonValue({ maxDepth: 3 }), 3), { weight: 2, arbitrary: fc.constant({ payload: VALID_STATE('00000000-0000-4000-8000-000000000000', 7), contentType: 'application/json' }) });
  else options.push({ weight: 4, arbitrary: fc.constant({}) });
  return fc.oneof(...options);
}

function requestFor(route: Route): fc.Arbitrary<Req> {
  const pathParams = route.params.filter((p) => p.in === 'path');
  const segs = fc.tuple(...pathParams.map((p) => segment(p.name, poolFor(route, p.name), p.schema)));
  const idem = route.params.some((p) => p.in === 'header' && p.name === 'idempotency-key')
    ? fc.option(fc.oneof(fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 0, maxLength: 300 }), fc.uuid()), { nil: undefined })
    : fc.constant(undefined);
  return fc.tuple(segs, queryString(route), bodyFor(route), idem).map(([values, query, body, idempotencyKey]) => {
    let path = route.path;
    pathParams.forEach((p, i) => (path = path.replace(`{${p.name}}`, values[i]!)));
    const headers: Record<string, string> = {};
    if (body.contentType !== undefined) headers['content-type'] = body.contentType;
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
    return { method: route.method, url: path + query, headers, ...(body.payload !== undefined && { payload: body.payload }) };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Part one: the fuzzer.

const BATCH = 10; // requests sent at once per property run
const RUNS = 21; // property runs per operation: 53 operations x 21 x 10 = 11,130 requests
const stats = { requests: 0, byStatus: {} as Record<number, number>, checkedBatches: 0, batches: 0 };

describe('fuzzing every endpoint (fast-check)', () => {
  let routes: Route[] = [];

  it('finds every operation in /openapi.json', async () => {
    const doc = (await ctx.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { parameters?: Param[]; requestBody?: { content: Record<string, { schema: Schema }> } }>>;
    };
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const body = op.requestBody?.content['application/json']?.schema;
        routes.push({ method: method.toUpperCase(), path, params: op.parameters ?? [], body, raw: path.startsWith('/v1/terraform/state') && ['post', 'lock', 'unlock'].includes(method) });
      }
    }
    // Served but not in the document: Prometheus and the dashboard's sign-in form.
    routes.push({ method: 'GET', path: '/metrics', params: [] }, { method: 'POST', path: '/admin/sign-in', params: [], body: { type: 'object', properties: { key: { type: 'string' } } } });
    const names = routes.map((r) => `${r.method} ${r.path}`);
    for (const must of ['POST /v1/resources', 'PATCH /v1/resources/{id}', 'POST /v1/credentials', 'PUT /v1/credentials/{id}/secret', 'GET /v1/costs', 'LOCK /v1/terraform/state/{resourceId}', 'PUT /v1/schedules', 'DELETE /v1/users/{id}']) {
      expect(names).toContain(must);
    }
    expect(routes.length).toBeGreaterThanOrEqual(50);
    routes = routes.filter((r) => !(r.method === 'GET' && r.path === '/openapi.json'));
  });

  it('answers every fuzzed request below 500, in the error shape, and a refused batch writes nothing', { timeout: 120_000 }, async () => {
    const started = Date.now();
    for (const route of routes) {
      const reads = route.method === 'GET';
      await fc.assert(
        fc.asyncProperty(fc.array(requestFor(route), { minLength: BATCH, maxLength: BATCH }), async (reqs) => {
          const before = await snapshot();
          const answers = await Promise.all(reqs.map((r) => ctx.app.inject({ method: r.method as 'GET', url: r.url, headers: { ...bearer(key), ...r.headers }, payload: r.payload })));
          stats.batches++;
          answers.forEach((res, i) => {
            stats.requests++;
            stats.byStatus[res.statusCode] = (stats.byStatus[res.statusCode] ?? 0) + 1;
            checkAnswer(res, describeReq(reqs[i]!));
          });
          // Reads never write; a batch of writes that were all refused must not have either.
          if (reads || answers.every((a) => a.statusCode >= 400)) {
            stats.checkedBatches++;
            const after = await snapshot();
            const refused = reqs.map((r, i) => `${answers[i]!.statusCode} ${describeReq(r)}`).join('\n');
            expect(after.rows, `rows changed by:\n${refused}`).toEqual(before.rows);
            expect(after.keys, `Redis keys changed by:\n${refused}`).toEqual(before.keys);
          }
        }),
        { numRuns: RUNS },
      );
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(JSON.stringify({ fuzz: { ...stats, operations: routes.length, seconds, perSecond: Math.round(stats.requests / seconds) } }));
    expect(stats.requests).toBeGreaterThanOrEqual(10_000);
    // The generators reach past validation: some requests succeed, most are refused, none fail.
    const ok = Object.entries(stats.byStatus).filter(([s]) => Number(s) < 300).reduce((n, [, c]) => n + c, 0);
    expect(ok).toBeGreaterThan(500);
    expect(stats.byStatus[400]).toBeGreaterThan(1000);
    expect(ctx.logs.filter((l) => l.includes('"request failed"') || l.includes('unhandled error'))).toEqual([]);
    expect(snapshotPrototype()).toEqual(prototypeBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Part two: the cases no generator finds.

/** Sends one request and checks the answer is no 5xx, in the error shape when refused, and wrote nothing when refused. */
async function probe(method: string, url: string, payload?: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const before = await snapshot();
  const res = await ctx.app.inject({ method: method as 'GET', url, headers: { ...bearer(key), ...headers }, ...(payload !== undefined && { payload }) });
  checkAnswer(res, `${method} ${url.slice(0, 200)} payload=${String(payload ?? '').slice(0, 100)}`);
  if (res.statusCode >= 400) expect(await snapshot(), `${method} ${url} was refused (${res.statusCode}) but wrote`).toEqual(before);
  return res;
}

const resourceBody = (extra: Record<string, unknown> = {}) => ({ name: 'hostile', provider: 'sandbox', type: 'vm', region: 'local', credentialId: pool.credential[0], spec: {}, ...extra });

describe('deeply nested JSON, huge strings and arrays', () => {
  const nestedObject = (depth: number, leaf = '1') => '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
  const nestedArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

  it('stores a spec nested 60 levels deep', async () => {
    const res = await probe('POST', '/v1/resources', JSON.stringify(resourceBody({ name: 'deep-ok', spec: '@' })).replace('"@"', nestedObject(60)));
    expect(res.statusCode, res.body).toBe(202);
  });

  it.each([100, 1_000, 10_000, 100_000])('refuses %i levels of nesting in every free-form field with 400 (5,000 answered 500)', async (depth) => {
    for (const [method, url, wrap] of [
      ['POST', '/v1/resources', (inner: string) => JSON.stringify(resourceBody({ spec: '@' })).replace('"@"', inner)],
      ['PATCH', `/v1/resources/${pool.resource[1]}`, (inner: string) => `{"spec":${inner}}`],
      ['POST', '/v1/credentials', (inner: string) => `{"name":"deep-${depth}","provider":"sandbox","secret":{},"options":${inner}}`],
      ['PUT', '/v1/schedules', (inner: string) => `{"inventoryMinutes":${inner}}`],
      ['POST', '/v1/inventory/sync', (inner: string) => inner],
    ] as const) {
      const a = await probe(method, url, wrap(nestedObject(depth)));
      const b = await probe(method, url, wrap(nestedArray(depth)));
      for (const r of [a, b]) expect(r.statusCode, `${method} ${url} depth ${depth}: ${r.body.slice(0, 200)}`).toBe(400);
    }
  });

  it('refuses huge strings and arrays with 400 or 413', async () => {
    const cases: [string, string, string][] = [
      ['POST', '/v1/credentials', JSON.stringify({ name: 'n'.repeat(900_000), provider: 'sandbox', secret: {} })],
      ['POST', '/v1/credentials', JSON.stringify({ name: 'n'.repeat(2_000_000), provider: 'sandbox', secret: {} })],
      ['POST', '/v1/credentials', JSON.stringify({ name: 'big-regions', provider: 'sandbox', secret: {}, regions: Array(200_000).fill('a') })],
      ['POST', '/v1/resources', JSON.stringify(resourceBody({ spec: { pad: 'x'.repeat(70_000) } }))],
      ['POST', '/v1/resources', JSON.stringify(resourceBody({ spec: { list: Array(100_000).fill(0) } }))],
      ['POST', '/v1/api-keys', JSON.stringify({ name: 'k'.repeat(500_000) })],
      ['POST', '/v1/users', JSON.stringify({ email: `${'a'.repeat(500_000)}@example.com`, role: 'viewer' })],
      ['POST', '/v1/inventory/sync', JSON.stringify(Array(300_000).fill(1))],
      ['PUT', '/v1/schedules', JSON.stringify({ costCron: `${'1 '.repeat(400_000)}` })],
    ];
    for (const [method, url, body] of cases) {
      const res = await probe(method, url, body);
      expect([400, 413], `${method} ${url} (${body.length} bytes): ${res.body.slice(0, 200)}`).toContain(res.statusCode);
    }
    const longQuery = await probe('GET', `/v1/inventory?region=${'r'.repeat(60_000)}`);
    expect(longQuery.statusCode).toBe(400);
  });
});

describe('invalid UTF-8 and prototype pollution', () => {
  it('refuses lone surrogates (\\ud800) in free-form JSON with 400: PostgreSQL cannot store them (answered 500)', async () => {
    for (const spec of ['{"note":"\\udbff"}', '{"\\ud800":1}', '{"a":["x","\\udc00y"]}']) {
      const res = await probe('POST', '/v1/resources', JSON.stringify(resourceBody({ name: 'surrogate', spec: '@' })).replace('"@"', spec));
      expect(res.statusCode, res.body).toBe(400);
      expect((await probe('PATCH', `/v1/resources/${pool.resource[1]}`, `{"spec":${spec}}`)).statusCode).toBe(400);
      expect((await probe('POST', '/v1/credentials', `{"name":"s","provider":"sandbox","secret":{},"options":${spec}}`)).statusCode).toBe(400);
    }
    // A well-formed pair (an emoji written as two escapes) is fine.
    const pair = await probe('POST', '/v1/resources', JSON.stringify(resourceBody({ name: 'pair', spec: '@' })).replace('"@"', '{"note":"\\ud83d\\udca5"}'));
    expect(pair.statusCode, pair.body).toBe(202);
  });

  it('answers bodies with invalid UTF-8 bytes without 5xx, and stores nothing it could not read back', async () => {
    const bad = [Buffer.from([0xff, 0xfe]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]), Buffer.from([0xe2, 0x82])];
    for (const [i, bytes] of bad.entries()) {
      const body = Buffer.concat([Buffer.from(`{"name":"utf8-${i}-`), bytes, Buffer.from('","provider":"sandbox","secret":{}}')]);
      const res = await probe('POST', '/v1/credentials', body);
      expect([201, 400], res.body).toContain(res.statusCode);
      if (res.statusCode === 201) {
        const back = (await send('GET', `/v1/credentials/${res.json().id}`)).json();
        expect(back.name).toBe(res.json().name);
        expect(back.name).not.toMatch(/[\ud800-\udfff]/);
      }
      const raw = await probe('POST', `/v1/terraform/state/${pool.resource[1]}`, Buffer.concat([Buffer.from('{"version":4,"lineage":"'), bytes, Buffer.from('","serial":1}')]));
      expect(raw.statusCode).toBeLessThan(500);
      const lock = await probe('LOCK', `/v1/terraform/state/${pool.resource[1]}`, Buffer.concat([Buffer.from('{"ID":"'), bytes, Buffer.from('"}')]));
      if (lock.statusCode === 200) await probe('UNLOCK', `/v1/terraform/state/${pool.resource[1]}`, Buffer.concat([Buffer.from('{"ID":"'), bytes, Buffer.from('"}')]));
    }
  });

  it('refuses __proto__, constructor and prototype keys in bodies, at any depth, and Object.prototype stays untouched', async () => {
    const bodies = [
      '{"__proto__":{"polluted":"yes"},"name":"p1","provider":"sandbox","secret":{}}',
      '{"name":"p2","provider":"sandbox","secret":{},"options":{"__proto__":{"polluted":"yes"}}}',
      '{"name":"p3","provider":"sandbox","secret":{},"options":{"constructor":{"prototype":{"polluted":"yes"}}}}',
      '{"constructor":{"prototype":{"polluted":"yes"}},"name":"p4","provider":"sandbox","secret":{}}',
      '{"name":"p5","provider":"sandbox","secret":{"__proto__":{"polluted":"yes"}}}',
      '{"name":"p6","provider":"sandbox","secret":{},"options":{"a":[{"__proto__":{"polluted":"yes"}}]}}',
    ];
    for (const body of bodies) {
      const res = await probe('POST', '/v1/credentials', body);
      expect(res.statusCode, `${body}: ${res.body}`).toBe(400);
    }
    for (const body of ['{"spec":{"__proto__":{"polluted":"yes"}}}', '{"spec":{"constructor":{"prototype":{"polluted":"yes"}}}}']) {
      expect((await probe('PATCH', `/v1/resources/${pool.resource[1]}`, body)).statusCode).toBe(400);
    }
    // "prototype" alone is an ordinary key: stored as data, harmless.
    const plain = await probe('POST', '/v1/resources', JSON.stringify(resourceBody({ name: 'proto-plain', spec: { prototype: { polluted: 'yes' }, toString: 'x' } })));
    expect(plain.statusCode, plain.body).toBe(202);
    expect((await send('GET', `/v1/resources/${plain.json().resource.id}`)).json().spec).toEqual({ prototype: { polluted: 'yes' }, toString: 'x' });

    for (const q of ['__proto__[polluted]=yes', '__proto__.polluted=yes', 'constructor[prototype][polluted]=yes', '__proto__=yes', 'constructor=yes', 'prototype=yes', 'hasOwnProperty=yes', 'toString=1']) {
      for (const path of ['/v1/credentials', '/v1/inventory', '/v1/costs', '/v1/audit-events']) {
        const res = await probe('GET', `${path}?${q}`, undefined, {});
        expect([200, 400], `${path}?${q}: ${res.body.slice(0, 200)}`).toContain(res.statusCode);
      }
    }
    expect(snapshotPrototype()).toEqual(prototypeBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.toString.call([])).toBe('[object Array]');
  });
});

const EVIL = [
  "x'; drop table users; --$(touch /tmp/pwned-skyloft)",
  'a"; drop table credentials; -- `touch /tmp/pwned-skyloft`',
  "'; select pg_sleep(10); -- | touch /tmp/pwned-skyloft &",
  '$(touch${IFS}/tmp/pwned-skyloft) ${PATH} %s %n {{7*7}} <x> \\ \' " ; & | > <',
  '../../../tmp/pwned-skyloft',
  'name\twith\ttabs and ünïcødé 💥 and a right-to-left \u202e mark',
];

describe('SQL and shell metacharacters in every name', () => {
  it('stores credential, resource and key names verbatim, executes nothing, and filters are plain data', async () => {
    rmSync('/tmp/pwned-skyloft', { force: true });
    for (const [i, name] of EVIL.entries()) {
      const cred = await send('POST', '/v1/credentials', { name, provider: 'sandbox', secret: {} });
      expect(cred.statusCode, cred.body).toBe(201);
      expect((await send('GET', `/v1/credentials/${cred.json().id}`)).json().name).toBe(name);
      const res = await send('POST', '/v1/resources', resourceBody({ name, credentialId: cred.json().id, spec: { note: name, [name]: name } }));
      expect(res.statusCode, res.body).toBe(202);
      const back = (await send('GET', `/v1/resources/${res.json().resource.id}`)).json();
      expect(back.name).toBe(name);
      expect(back.spec).toEqual({ note: name, [name]: name });
      const apiKey = await send('POST', '/v1/api-keys', { name: `${name}`.slice(0, 100), role: 'viewer' });
      expect([201, 409], apiKey.body).toContain(apiKey.statusCode);
      if (apiKey.statusCode === 201) {
        expect(apiKey.json().name).toBe(name.slice(0, 100));
        expect((await send('DELETE', `/v1/api-keys/${apiKey.json().id}`)).statusCode).toBeLessThan(300);
      }
      for (const q of ['region', 'status']) {
        const inv = await send('GET', `/v1/inventory?${q}=${encodeURIComponent(name.slice(0, 50))}`);
        expect(inv.statusCode, inv.body).toBe(200);
        expect(inv.json().items).toEqual([]);
      }
      const audit = await send('GET', `/v1/audit-events?action=${encodeURIComponent(name)}&entity=${encodeURIComponent(name)}&actor=${encodeURIComponent(name)}`);
      expect(audit.statusCode, `${i}: ${audit.body}`).toBeLessThan(500);
    }
    // The tables are all there, with their rows.
    expect(Number((await sql<{ n: string }>('select count(*) n from users'))[0]!.n)).toBeGreaterThan(0);
    expect(Number((await sql<{ n: string }>('select count(*) n from credentials'))[0]!.n)).toBeGreaterThanOrEqual(EVIL.length);
    expect(existsSync('/tmp/pwned-skyloft')).toBe(false);
  });
});

describe('path traversal in ids', () => {
  const TRAVERSALS = [
    '../../etc/passwd',
    '..%2F..%2Fetc%2Fpasswd',
    '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '..%252f..%252fetc%252fpasswd',
    '%c0%ae%c0%ae%c0%afetc%c0%afpasswd',
    '....%2F%2F....%2F%2Fetc%2Fpasswd',
    '..%5c..%5cwindows%5cwin.ini',
    '%2Fetc%2Fpasswd',
    '.',
    '..',
    '%00',
    'x%00..%2F',
  ];
  it.each(TRAVERSALS)('%s answers 400 or 404 everywhere an id goes, and reveals no file', async (id) => {
    const targets = [
      ['GET', `/v1/resources/${id}`],
      ['GET', `/v1/resources/${id}/states`],
      ['GET', `/v1/resources/${id}/states/1`],
      ['GET', `/v1/resources/${pool.resource[0]}/states/${id}`],
      ['DELETE', `/v1/resources/${id}/lock`],
      ['GET', `/v1/credentials/${id}`],
      ['DELETE', `/v1/credentials/${id}`],
      ['GET', `/v1/operations/${id}/log`],
      ['POST', `/v1/operations/${id}/cancel`],
      ['GET', `/v1/inventory/runs/${id}`],
      ['GET', `/v1/costs/runs/${id}`],
      ['GET', `/v1/health/providers/${id}/history`],
      ['GET', `/v1/terraform/state/${id}`],
      ['DELETE', `/v1/users/${id}`],
      ['DELETE', `/v1/api-keys/${id}`],
    ];
    for (const [method, url] of targets) {
      const res = await probe(method!, url!, undefined, {});
      // A bare "." or ".." segment is resolved by the URL parser before routing (as every HTTP client does), so it
      // reaches the parent route; anything else is an id that does not exist.
      if (id === '.' || id === '..') expect(res.statusCode).toBeLessThan(500);
      else expect([400, 404], `${method} ${url}: ${res.statusCode} ${res.body.slice(0, 200)}`).toContain(res.statusCode);
      expect(res.body).not.toMatch(/root:|\[fonts\]/);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Connection-level cases, against a real listening server with short limits (headers 2 s, whole request 4 s).

describe('on a listening server', () => {
  let net: TestContext;
  let netKey: string;
  let port: number;

  beforeAll(async () => {
    net = await createTestContext({ SKYLOFT_HTTP_HEADERS_TIMEOUT: '2s', SKYLOFT_HTTP_REQUEST_TIMEOUT: '4s', LOG_LEVEL: 'warn' });
    netKey = (await net.bootstrap()).apiKey;
    await net.app.listen({ port: 0, host: '127.0.0.1' });
    port = (net.app.server.address() as { port: number }).port;
  }, 60_000);
  afterAll(async () => {
    await net?.close();
  });

  /** Writes raw bytes on a new connection and collects everything the server sends until it closes (or `waitMs`). */
  function raw(data: string | Buffer, waitMs = 3_000): Promise<{ text: string; closed: boolean }> {
    return new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      const timer = setTimeout(() => {
        socket.destroy();
        resolve({ text, closed: false });
      }, waitMs);
      socket.on('data', (d) => (text += d.toString('latin1')));
      socket.on('error', () => {});
      socket.on('close', () => {
        clearTimeout(timer);
        resolve({ text, closed: true });
      });
      socket.write(data);
    });
  }

  const get = (path: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; ms: number }>((resolve, reject) => {
      const t0 = Date.now();
      const req = httpRequest({ host: '127.0.0.1', port, path, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, ms: Date.now() - t0 }));
      });
      req.on('error', reject);
      req.end();
    });

  it('refuses CR/LF, NUL, obs-fold and smuggling in headers, and never reflects an injected header', async () => {
    const auth = `Authorization: Bearer ${netKey}\r\n`;
    const attempts = [
      `GET /v1/me HTTP/1.1\r\nHost: x\r\n${auth}X-Request-Id: a\rSet-Cookie: pwned=1\r\n\r\n`,
      `GET /v1/me HTTP/1.1\r\nHost: x\r\n${auth}X-Note: a\nSet-Cookie: pwned=1\r\n\r\n`,
      `GET /v1/me HTTP/1.1\r\nHost: x\r\n${auth}X-Note: a\u0000b\r\n\r\n`,
      `GET /v1/me HTTP/1.1\r\nHost: x\r\n${auth}X-Note: a\r\n  folded: value\r\n\r\n`,
      `POST /v1/credentials HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1/me HTTP/1.1\r\nHost: x\r\n\r\n`,
      `POST /v1/credentials HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\n{}{}`,
      `GET /v1/me%0d%0aSet-Cookie:%20pwned=1 HTTP/1.1\r\nHost: x\r\n${auth}\r\n`,
      `GET /v1/resources/..%2F..%2Fetc%2Fpasswd HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`,
      `GET /v1/resources/../../../etc/passwd HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`,
      `GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${netKey}\rX-Evil: 1\r\n\r\n`,
    ];
    for (const attempt of attempts) {
      const { text } = await raw(attempt, 2_000);
      const head = text.split('\r\n\r\n')[0] ?? '';
      expect(head, attempt).toMatch(/^HTTP\/1\.1 [1-4]\d\d /);
      expect(head.toLowerCase(), attempt).not.toContain('set-cookie: pwned');
      expect(head.toLowerCase(), attempt).not.toContain('x-evil');
      expect(text, attempt).not.toMatch(/root:x:0/);
    }
    // The raw traversal reaches no file and no route with the traversal as a path: 404 in the error shape.
    const traversal = await raw(`GET /v1/resources/../../../etc/passwd HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${netKey}\r\nConnection: close\r\n\r\n`);
    expect(traversal.text).toMatch(/^HTTP\/1\.1 404 /);
    expect(traversal.text).toContain('"not_found"');
    // And it still serves.
    expect((await get('/healthz')).status).toBe(200);
  });

  it('answers a 100 MB body 413 at once, without reading it into memory', async () => {
    const before = await snapshot(net);
    const rssBefore = process.memoryUsage().rss;
    const sendBig = (path: string, chunked: boolean) =>
      new Promise<{ status: number; ms: number; body: string }>((resolve, reject) => {
        const t0 = Date.now();
        const total = 100 * 1024 * 1024;
        const headers: Record<string, string | number> = { authorization: `Bearer ${netKey}`, 'content-type': 'application/json' };
        if (!chunked) headers['content-length'] = total;
        const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', headers }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => {
            resolve({ status: res.statusCode!, ms: Date.now() - t0, body });
            req.destroy();
          });
        });
        req.on('error', (err) => (Date.now() - t0 > 0 ? undefined : reject(err)));
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        let sent = 0;
        const pump = () => {
          while (sent < total && !req.destroyed) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          if (!req.destroyed) req.end();
        };
        pump();
      });
    for (const [path, chunked] of [['/v1/credentials', false], ['/v1/credentials', true], [`/v1/terraform/state/x`, false], ['/v1/resources', true]] as const) {
      const res = await sendBig(path, chunked);
      expect(res.status, `${path} chunked=${chunked}: ${res.body}`).toBe(413);
      expect(JSON.parse(res.body).error.code).toBe('payload_too_large');
      expect(res.ms, `${path} chunked=${chunked}`).toBeLessThan(5_000);
    }
    const grown = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
    console.log(JSON.stringify({ body100MB: { rssGrowthMB: Math.round(grown) } }));
    expect(grown).toBeLessThan(100);
    expect(await snapshot(net)).toEqual(before);
    expect((await get('/healthz')).status).toBe(200);
  });

  it('times out slow-loris connections (headers, body, silence) and keeps serving everyone else', async () => {
    const lorises: Promise<{ closedAfterMs: number; text: string }>[] = [];
    const timers: NodeJS.Timeout[] = [];
    const loris = (preamble: string, drip: string) =>
      new Promise<{ closedAfterMs: number; text: string }>((resolve) => {
        const t0 = Date.now();
        const socket: Socket = connect(port, '127.0.0.1');
        let text = '';
        let i = 0;
        socket.on('data', (d) => (text += d.toString('latin1')));
        socket.on('error', () => {});
        socket.on('close', () => resolve({ closedAfterMs: Date.now() - t0, text }));
        if (preamble) socket.write(preamble);
        // One byte a second, forever (until the server hangs up, or 15 s pass and the test fails).
        const timer = setInterval(() => {
          if (socket.destroyed) return clearInterval(timer);
          if (Date.now() - t0 > 15_000) {
            clearInterval(timer);
            return socket.destroy();
          }
          if (drip) socket.write(drip[i++ % drip.length]!); // '' = a connection that sends nothing at all
        }, 1_000);
        timers.push(timer);
      });
    for (let n = 0; n < 10; n++) lorises.push(loris('GET /healthz HTTP/1.1\r\n', 'X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'));
    for (let n = 0; n < 5; n++) lorises.push(loris(`POST /v1/credentials HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${netKey}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`, '{"name":"slow"'));
    for (let n = 0; n < 5; n++) lorises.push(loris('', ''));
    // Meanwhile everyone else is served, quickly.
    const latencies: number[] = [];
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline) {
      const r = await get('/healthz');
      expect(r.status).toBe(200);
      latencies.push(r.ms);
      await new Promise((ok) => setTimeout(ok, 50));
    }
    const results = await Promise.all(lorises);
    timers.forEach(clearInterval);
    const closed = results.map((r) => r.closedAfterMs).sort((a, b) => a - b);
    console.log(JSON.stringify({ slowLoris: { connections: results.length, closedAfterMs: { min: closed[0], max: closed.at(-1) }, othersMaxMs: Math.max(...latencies), othersServed: latencies.length } }));
    // Headers within 2 s, the whole request within 4 s, checked every 0.5 s: all gone well before 15 s.
    for (const r of results) expect(r.closedAfterMs).toBeLessThan(7_000);
    expect(results.slice(0, 10).every((r) => r.closedAfterMs < 4_000)).toBe(true);
    expect(Math.max(...latencies)).toBeLessThan(1_000);
    expect(latencies.length).toBeGreaterThan(20);
  }, 30_000);
});
