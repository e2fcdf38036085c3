/**
 * Isolation and the role matrix (issue 7, "Isolation").
 *
 * Two accounts, each holding every kind of object (users, API keys, a sandbox credential, resources, operations, a
 * state version, a state lock, an inventory item, a sync run, a health check, a cost run and cost rows, audit events,
 * a dashboard session). Every /v1 operation of the OpenAPI document is called by account A, with each role, with
 * account B's ids in its path parameters, query filters, body references, cursors and Idempotency-Key: each answers
 * exactly as it would for an id that exists nowhere (404 for paths and body references), never 403 (except the
 * route's own role check, which comes before any lookup), never B's data; B's rows (a hash per table of B's rows)
 * and B's queued jobs stay as they were. Then every operation, for every role, answers what its role allows
 * (2xx, or 403 writing nothing); without a valid key every /v1 path answers 401, and with an installation key 403;
 * /metrics and the queue dashboard's actions follow their own rules (test/integration/queue-tenancy.test.ts attacks
 * the dashboard across accounts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInstallationKey } from '../../src/modules/installation/keys.ts';
import { QUEUE_NAMES } from '../../src/queue/catalog.ts';
import { newId } from '../../src/shared/ids.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';
import { insertResource } from '../support/resources.ts';

type Role = 'admin' | 'operator' | 'viewer';
const ROLES: Role[] = ['admin', 'operator', 'viewer'];
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

interface Req { method: string; url: string; payload?: string | object; headers?: Record<string, string> }

interface World {
  token: string;
  accountId: string;
  emails: Record<Role, string>;
  keys: Record<Role, string>;
  userIds: Record<Role, string>;
  keyIds: Record<Role, string>;
  extraKeyId: string;
  credentialId: string;
  credentialName: string;
  /** The ExternalId Skyloft assumes this account's AWS roles with: another account must never see it. */
  awsExternalId: string;
  idempotencyKey: string;
  networkId: string;
  queuedOperationId: string;
  vmId: string;
  waitingOperationId: string;
  stateMarker: string;
  lockId: string;
  lockBody: string;
  inventoryItemId: string;
  externalId: string;
  syncRunId: string;
  healthCheckId: string;
  costRunId: string;
  costService: string;
  auditEventId: string;
  dashboardCookie: string;
}

const HOST = 'skyloft.test';
const today = () => new Date().toISOString().slice(0, 10);
const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
const hex = () => randomBytes(4).toString('hex');

let ctx: TestContext;
let a: World;
let b: World;
let nextIp = 0;

const exec = <T = Record<string, unknown>>(text: string, params: unknown[] = []) => ctx.orm.em.getConnection().execute<T[]>(text, params);

function send(key: string | null, r: Req): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { ...(key && bearer(key)), ...r.headers };
  if (typeof r.payload === 'string' && !headers['content-type']) headers['content-type'] = 'application/json';
  return ctx.app.inject({ method: r.method as 'GET', url: r.url, headers, ...(r.payload !== undefined && { payload: r.payload }) });
}

async function ok<T = any>(key: string, r: Req, status = 200): Promise<T> {
  const res = await send(key, r);
  expect(res.statusCode, `${r.method} ${r.url}: ${res.body}`).toBe(status);
  return res.json() as T;
}

const stateBody = (serial: number, lineage: string, marker: string) =>
  JSON.stringify({ version: 4, terraform_version: '1.11.4', serial, lineage, outputs: { marker: { value: marker, type: 'string' } }, resources: [] });
const lockInfo = (who: string, id: string = randomUUID()) =>
  JSON.stringify({ ID: id, Operation: 'OperationTypeApply', Info: '', Who: who, Version: '1.11.4', Created: new Date().toISOString(), Path: '' });

async function insertOperation(accountId: string, resourceId: string, status: 'queued' | 'awaiting_approval'): Promise<string> {
  const id = newId();
  await exec(
    `insert into operations (id, account_id, resource_id, kind, status, step, spec, auto_approve, log, plan_summary)
     values (?, ?, ?, 'update', ?, ?, '{}', false, '', ?)`,
    [id, accountId, resourceId, status, status === 'queued' ? 'plan' : 'approval', status === 'queued' ? null : JSON.stringify({ add: 0, change: 1, destroy: 0 })],
  );
  return id;
}

async function signIn(key: string): Promise<string> {
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/admin/sign-in',
    headers: { host: HOST, origin: `http://${HOST}`, 'content-type': 'application/x-www-form-urlencoded' },
    remoteAddress: `198.51.100.${(nextIp = (nextIp % 250) + 1)}`,
    payload: `apiKey=${encodeURIComponent(key)}`,
  });
  expect(res.statusCode, res.body).toBe(303);
  const header = res.headers['set-cookie'];
  return (Array.isArray(header) ? header[0]! : header!).split(';')[0]!;
}

const dashboard = (cookie: string, method: 'GET' | 'PUT', url: string) =>
  ctx.app.inject({ method, url, headers: { host: HOST, cookie, ...(method !== 'GET' && { origin: `http://${HOST}` }) }, remoteAddress: '198.51.100.254' });

/** One account with every kind of object, made through the API where the API makes it, else inserted. */
async function makeWorld(tag: string): Promise<World> {
  const token = `${tag}${hex()}`;
  const emails = { admin: `${token}-admin@example.com`, operator: `${token}-operator@example.com`, viewer: `${token}-viewer@example.com` };
  const boot = await ctx.bootstrap(emails.admin);
  const admin = boot.apiKey;
  const keys = { admin } as Record<Role, string>;
  const userIds = { admin: boot.userId } as Record<Role, string>;
  const keyIds = { admin: (await ok(admin, { method: 'GET', url: '/v1/me' })).apiKeyId } as Record<Role, string>;
  for (const role of ['operator', 'viewer'] as const) {
    const user = await ok(admin, { method: 'POST', url: '/v1/users', payload: { email: emails[role], role } }, 201);
    keys[role] = user.apiKey.key;
    userIds[role] = user.id;
    keyIds[role] = user.apiKey.id;
  }
  const extraKeyId = (await ok(admin, { method: 'POST', url: '/v1/api-keys', payload: { name: `${token}-key` } }, 201)).id;
  const credentialName = `${token}-cred`;
  const credentialId = (await ok(admin, { method: 'POST', url: '/v1/credentials', payload: { name: credentialName, provider: 'sandbox', secret: {} } }, 201)).id;
  const awsExternalId = (await ok(admin, { method: 'GET', url: '/v1/credentials/aws-external-id' })).externalId as string;
  const created = await ok(admin, {
    method: 'POST',
    url: '/v1/resources',
    headers: { 'idempotency-key': `idem-${token}` },
    payload: { name: `${token}-net`, provider: 'sandbox', type: 'network', region: 'local', credentialId, spec: { label: token } },
  }, 202);
  const vm = await insertResource(ctx, boot.accountId, { name: `${token}-vm`, credentialId, spec: { size: token } });
  const waitingOperationId = await insertOperation(boot.accountId, vm.id, 'awaiting_approval');
  const stateMarker = `${token}-state-contents`;
  await ok(admin, { method: 'POST', url: `/v1/terraform/state/${vm.id}`, payload: stateBody(1, `lineage-${token}`, stateMarker) });
  const lockId = randomUUID();
  const lockBody = lockInfo(`${token}@laptop`, lockId);
  await ok(admin, { method: 'LOCK', url: `/v1/terraform/state/${vm.id}`, payload: lockBody });

  const inventoryItemId = newId();
  const externalId = `i-${token}`;
  await exec(
    `insert into inventory_items (id, account_id, credential_id, provider, type, kind, region, external_id, name, status, metadata, tags,
                                  content_hash, managed_resource_id, first_seen_at, last_seen_at, last_run_id)
     values (?, ?, ?, 'sandbox', 'vm', 'sandbox:vm', 'local', ?, ?, 'running', '{}', ?, 'h', ?, now(), now(), ?)`,
    [inventoryItemId, boot.accountId, credentialId, externalId, `${token}-item`, JSON.stringify({ 'skyloft-resource-id': vm.id, 'skyloft-account-id': boot.accountId }), vm.id, newId()],
  );
  const syncRunId = (await ok(admin, { method: 'POST', url: '/v1/inventory/sync', payload: { credentialId } }, 202)).runIds[0];
  const healthCheckId = newId();
  await exec(`insert into health_checks (id, account_id, credential_id, status, response_time_ms, checked_at) values (?, ?, ?, 'healthy', 12, now())`, [healthCheckId, boot.accountId, credentialId]);
  // The credential's backfill collection was queued when it was registered.
  const costRuns = await ok(admin, { method: 'GET', url: '/v1/costs/runs' });
  expect(costRuns.items).toHaveLength(1);
  const costService = `${token}-service`;
  const day = addDays(today(), -1);
  const [costKey] = await exec<{ id: string }>(
    `insert into cost_keys (credential_id, billing_account, service, resource_id, currency) values (?, 'billing', ?, ?, 'USD') returning id`,
    [credentialId, costService, externalId],
  );
  await exec('insert into cost_data (credential_id, usage_date, key_id, amount) values (?, ?, ?, 12.5)', [credentialId, day, costKey!.id]);
  await exec(
    `insert into cost_daily (account_id, credential_id, provider, usage_date, billing_period, service, currency, amount) values (?, ?, 'sandbox', ?, ?, ?, 'USD', 12.5)`,
    [boot.accountId, credentialId, day, day.slice(0, 7), costService],
  );
  const auditEventId = (await ok(admin, { method: 'GET', url: '/v1/audit-events?limit=1' })).items[0].id;
  const dashboardCookie = await signIn(admin);
  return {
    token, accountId: boot.accountId, emails, keys, userIds, keyIds, extraKeyId, credentialId, credentialName, awsExternalId, idempotencyKey: `idem-${token}`,
    networkId: created.resource.id, queuedOperationId: created.operation.id, vmId: vm.id, waitingOperationId,
    stateMarker, lockId, lockBody, inventoryItemId, externalId, syncRunId, healthCheckId,
    costRunId: costRuns.items[0].id, costService, auditEventId, dashboardCookie,
  };
}

/** Every id of a world, and every text only it holds (its token is in each name, email and marker). */
const idsOf = (w: World): string[] => [
  w.accountId, ...Object.values(w.userIds), ...Object.values(w.keyIds), w.extraKeyId, w.credentialId, w.networkId,
  w.queuedOperationId, w.vmId, w.waitingOperationId, w.lockId, w.inventoryItemId, w.syncRunId, w.healthCheckId,
  w.costRunId, w.auditEventId,
];
const markersOf = (w: World): string[] => [...idsOf(w), w.token, w.awsExternalId];

/** The markers of `w` in an answer, leaving out those the request itself carried (an id echoed in a 404 message). */
function leaked(w: World, r: Req, body: string): string[] {
  const sent = `${r.url} ${typeof r.payload === 'string' ? r.payload : JSON.stringify(r.payload ?? '')}`;
  return markersOf(w).filter((m) => body.includes(m) && !sent.includes(m));
}

// ---------------------------------------------------------------------------------------------------------------
// Snapshots: a hash of every table's rows of one account, and the queued jobs that name its ids.

let tables: { name: string; columns: string[] }[] | undefined;

/** How each table's rows are tied to an account; a new table without one of these fails here, so none is missed. */
function scopeOf(t: { name: string; columns: string[] }): string | null {
  if (t.name === 'skyloft_migrations') return null;
  if (t.name === 'installation_keys') return null; // the installation's, no account's (migration 0011)
  if (t.name === 'accounts') return 'id = ?';
  if (t.columns.includes('account_id')) return 'account_id = ?';
  if (t.columns.includes('credential_id')) return 'credential_id in (select id from credentials where account_id = ?)';
  if (t.columns.includes('run_id')) return 'run_id in (select id from sync_runs where account_id = ?)';
  throw new Error(`isolation.test.ts: table ${t.name} has no account_id; say how its rows belong to an account`);
}

/** Per table: row count and md5 of the rows (a key's last_used_at and a session's last_seen_at move on reads). */
async function snapshot(accountId: string): Promise<Record<string, string>> {
  tables ??= (await exec<{ name: string; columns: string[] }>(
    `select table_name as name, array_agg(column_name::text) as columns from information_schema.columns
      where table_schema = 'public' group by table_name order by table_name`,
  ));
  const out: Record<string, string> = {};
  for (const t of tables) {
    const where = scopeOf(t);
    if (!where) continue;
    const [row] = await exec<{ n: string; h: string }>(
      `select count(*) as n, md5(coalesce(string_agg(r, '|' order by r), '')) as h
         from (select (to_jsonb(t) - 'last_used_at' - 'last_seen_at')::text as r from ${t.name} t where ${where}) x`,
      [accountId],
    );
    out[t.name] = `${row!.n}:${row!.h}`;
  }
  return out;
}

const JOB_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized', 'waiting-children'] as const;
async function jobsNaming(w: World): Promise<string[]> {
  const ids = idsOf(w);
  const found: string[] = [];
  for (const name of QUEUE_NAMES) {
    for (const job of await ctx.deps.queues.get(name).getJobs([...JOB_STATES])) {
      const text = JSON.stringify(job?.data ?? null);
      if (ids.some((id) => text.includes(id))) found.push(`${name}:${job!.id}:${job!.name}:${text}`);
    }
  }
  return found.sort();
}

beforeAll(async () => {
  ctx = await createTestContext({ SKYLOFT_RATE_LIMIT: '1000000' });
  a = await makeWorld('alpha');
  b = await makeWorld('bravo');
}, 60_000);
afterAll(() => ctx?.close());

// ---------------------------------------------------------------------------------------------------------------
// Isolation: account A's admin key, account B's ids.

/**
 * notFound: a path parameter or a body reference holds B's id: 404, and the same answer as for an unknown id.
 * filter: a query filter holds B's id: the same answer as for an unknown id, without B's data.
 * free: no id of B can be given; the answer holds none of B's data (ownSees: B's own answer to it does).
 */
interface IsoCase { op: string; label: string; kind: 'notFound' | 'filter' | 'free'; ownSees?: boolean; build: (role: Role) => Req }

const ISO: IsoCase[] = [];
const iso = (op: string, kind: IsoCase['kind'], build: (role: Role) => Req, label = '', ownSees = false) => ISO.push({ op, kind, build, label, ownSees });
const costRange = () => `from=${addDays(today(), -5)}&to=${addDays(today(), 1)}`;

iso('GET /v1/me', 'free', () => ({ method: 'GET', url: '/v1/me' }));
iso('POST /v1/users', 'free', () => ({ method: 'POST', url: '/v1/users', payload: { email: `u-${hex()}@example.com`, role: 'viewer' } }));
iso('GET /v1/users', 'free', () => ({ method: 'GET', url: '/v1/users?limit=500' }), '', true);
iso('PATCH /v1/users/{id}', 'notFound', () => ({ method: 'PATCH', url: `/v1/users/${b.userIds.viewer}`, payload: { role: 'admin' } }));
iso('PATCH /v1/users/{id}', 'notFound', () => ({ method: 'PATCH', url: `/v1/users/${b.userIds.admin}`, payload: { active: false } }), "B's admin");
iso('DELETE /v1/users/{id}', 'notFound', () => ({ method: 'DELETE', url: `/v1/users/${b.userIds.operator}` }));
iso('POST /v1/users/{id}/api-keys', 'notFound', () => ({ method: 'POST', url: `/v1/users/${b.userIds.viewer}/api-keys`, payload: { name: `k-${hex()}` } }));
iso('POST /v1/api-keys', 'free', () => ({ method: 'POST', url: '/v1/api-keys', payload: { name: `k-${hex()}` } }));
iso('GET /v1/api-keys', 'free', () => ({ method: 'GET', url: '/v1/api-keys?limit=500' }), '', true);
iso('GET /v1/api-keys', 'filter', () => ({ method: 'GET', url: `/v1/api-keys?userId=${b.userIds.viewer}` }), '?userId=');
iso('DELETE /v1/api-keys/{id}', 'notFound', () => ({ method: 'DELETE', url: `/v1/api-keys/${b.keyIds.admin}` }));
iso('DELETE /v1/api-keys/{id}', 'notFound', () => ({ method: 'DELETE', url: `/v1/api-keys/${b.extraKeyId}` }), "B's extra key");
iso('POST /v1/credentials', 'free', () => ({ method: 'POST', url: '/v1/credentials', payload: { name: `c-${hex()}`, provider: 'sandbox', secret: {} } }));
iso('GET /v1/credentials', 'free', () => ({ method: 'GET', url: '/v1/credentials?limit=500' }), '', true);
iso('GET /v1/credentials/aws-external-id', 'free', () => ({ method: 'GET', url: '/v1/credentials/aws-external-id' }), '', true);
iso('GET /v1/credentials/{id}', 'notFound', () => ({ method: 'GET', url: `/v1/credentials/${b.credentialId}` }));
iso('DELETE /v1/credentials/{id}', 'notFound', () => ({ method: 'DELETE', url: `/v1/credentials/${b.credentialId}` }));
iso('PUT /v1/credentials/{id}/secret', 'notFound', () => ({ method: 'PUT', url: `/v1/credentials/${b.credentialId}/secret`, payload: { secret: {} } }));
iso('GET /v1/audit-events', 'free', () => ({ method: 'GET', url: '/v1/audit-events?limit=500' }), '', true);
iso('GET /v1/audit-events', 'filter', () => ({ method: 'GET', url: `/v1/audit-events?actor=${b.userIds.admin}` }), '?actor=');
iso('GET /v1/audit-events', 'filter', () => ({ method: 'GET', url: `/v1/audit-events?entity=credential&entityId=${b.credentialId}` }), '?entityId=');
iso('POST /v1/resources', 'notFound', () => ({
  method: 'POST', url: '/v1/resources', headers: { 'idempotency-key': b.idempotencyKey },
  payload: { name: `${b.token}-net`, provider: 'sandbox', type: 'network', region: 'local', credentialId: b.credentialId, spec: { label: b.token } },
}), "B's credential, B's own body and Idempotency-Key");
iso('POST /v1/resources', 'notFound', () => ({
  method: 'POST', url: '/v1/resources',
  payload: { name: `vm-${hex()}`, provider: 'sandbox', type: 'vm', region: 'local', credentialId: a.credentialId, spec: { networkResourceId: b.networkId } },
}), "B's network in the spec");
iso('POST /v1/resources', 'free', () => ({
  method: 'POST', url: '/v1/resources', payload: { name: `r-${hex()}`, provider: 'sandbox', type: 'vm', region: 'local', credentialId: a.credentialId, spec: {} },
}));
iso('GET /v1/resources', 'free', () => ({ method: 'GET', url: '/v1/resources?limit=500' }), '', true);
iso('GET /v1/resources/{id}', 'notFound', () => ({ method: 'GET', url: `/v1/resources/${b.vmId}` }));
iso('PATCH /v1/resources/{id}', 'notFound', () => ({ method: 'PATCH', url: `/v1/resources/${b.vmId}`, payload: { spec: { size: 'huge' } } }));
iso('PATCH /v1/resources/{id}', 'notFound', () => ({ method: 'PATCH', url: `/v1/resources/${a.vmId}`, payload: { spec: { networkResourceId: b.networkId } } }), "B's network in the spec of A's vm");
iso('DELETE /v1/resources/{id}', 'notFound', () => ({ method: 'DELETE', url: `/v1/resources/${b.vmId}` }));
iso('DELETE /v1/resources/{id}', 'notFound', () => ({ method: 'DELETE', url: `/v1/resources/${b.networkId}?autoApprove=false` }), 'the network, ?autoApprove=false');
iso('GET /v1/resources/{id}/states', 'notFound', () => ({ method: 'GET', url: `/v1/resources/${b.vmId}/states` }));
iso('GET /v1/resources/{id}/states/{version}', 'notFound', () => ({ method: 'GET', url: `/v1/resources/${b.vmId}/states/1` }));
iso('DELETE /v1/resources/{id}/lock', 'notFound', () => ({ method: 'DELETE', url: `/v1/resources/${b.vmId}/lock` }));
iso('GET /v1/resources/{id}/cost', 'notFound', () => ({ method: 'GET', url: `/v1/resources/${b.vmId}/cost?${costRange()}` }));
iso('GET /v1/operations', 'free', () => ({ method: 'GET', url: '/v1/operations?limit=500' }), '', true);
iso('GET /v1/operations', 'filter', () => ({ method: 'GET', url: `/v1/operations?resourceId=${b.vmId}` }), '?resourceId=');
iso('GET /v1/operations/{id}', 'notFound', () => ({ method: 'GET', url: `/v1/operations/${b.queuedOperationId}` }));
iso('GET /v1/operations/{id}/log', 'notFound', () => ({ method: 'GET', url: `/v1/operations/${b.queuedOperationId}/log` }));
iso('POST /v1/operations/{id}/approve', 'notFound', () => ({ method: 'POST', url: `/v1/operations/${b.waitingOperationId}/approve` }));
iso('POST /v1/operations/{id}/cancel', 'notFound', () => ({ method: 'POST', url: `/v1/operations/${b.queuedOperationId}/cancel` }));
iso('POST /v1/operations/{id}/cancel', 'notFound', () => ({ method: 'POST', url: `/v1/operations/${b.waitingOperationId}/cancel` }), 'awaiting approval');
iso('GET /v1/inventory', 'free', () => ({ method: 'GET', url: '/v1/inventory?limit=500&include=deleted' }), '', true);
iso('GET /v1/inventory', 'filter', () => ({ method: 'GET', url: `/v1/inventory?credentialId=${b.credentialId}` }), '?credentialId=');
iso('GET /v1/inventory/summary', 'free', () => ({ method: 'GET', url: '/v1/inventory/summary' }));
iso('POST /v1/inventory/sync', 'notFound', () => ({ method: 'POST', url: '/v1/inventory/sync', payload: { credentialId: b.credentialId } }));
iso('GET /v1/inventory/runs', 'free', () => ({ method: 'GET', url: '/v1/inventory/runs?limit=500' }), '', true);
iso('GET /v1/inventory/runs', 'filter', () => ({ method: 'GET', url: `/v1/inventory/runs?credentialId=${b.credentialId}` }), '?credentialId=');
iso('GET /v1/inventory/runs/{id}', 'notFound', () => ({ method: 'GET', url: `/v1/inventory/runs/${b.syncRunId}` }));
iso('GET /v1/health/providers', 'free', () => ({ method: 'GET', url: '/v1/health/providers' }), '', true);
iso('GET /v1/health/providers/{credentialId}/history', 'notFound', () => ({ method: 'GET', url: `/v1/health/providers/${b.credentialId}/history` }));
iso('POST /v1/health/check', 'notFound', () => ({ method: 'POST', url: '/v1/health/check', payload: { credentialId: b.credentialId } }));
iso('GET /v1/schedules', 'free', () => ({ method: 'GET', url: '/v1/schedules' }));
iso('PUT /v1/schedules', 'free', () => ({ method: 'PUT', url: '/v1/schedules', payload: { healthMinutes: 7 } }));
for (const groupBy of ['provider', 'service', 'resource', 'day']) {
  iso('GET /v1/costs', 'free', () => ({ method: 'GET', url: `/v1/costs?${costRange()}&groupBy=${groupBy}` }), `groupBy=${groupBy}`, groupBy === 'service' || groupBy === 'resource');
}
iso('GET /v1/costs', 'filter', () => ({ method: 'GET', url: `/v1/costs?${costRange()}&groupBy=resource&credentialId=${b.credentialId}` }), '?credentialId=');
iso('POST /v1/costs/collect', 'notFound', () => ({ method: 'POST', url: '/v1/costs/collect', payload: { credentialId: b.credentialId } }));
iso('GET /v1/costs/runs', 'free', () => ({ method: 'GET', url: '/v1/costs/runs?limit=500' }), '', true);
iso('GET /v1/costs/runs', 'filter', () => ({ method: 'GET', url: `/v1/costs/runs?credentialId=${b.credentialId}` }), '?credentialId=');
iso('GET /v1/costs/runs/{id}', 'notFound', () => ({ method: 'GET', url: `/v1/costs/runs/${b.costRunId}` }));
iso('GET /v1/queues', 'free', () => ({ method: 'GET', url: '/v1/queues' }));
// A cursor made from B's newest id pages A's rows below it, never B's.
for (const list of ['users', 'api-keys', 'credentials', 'audit-events', 'resources', 'operations', 'inventory/runs', 'costs/runs']) {
  iso(`GET /v1/${list}`, 'free', () => ({ method: 'GET', url: `/v1/${list}?limit=500&cursor=${Buffer.from(b.auditEventId).toString('base64url')}` }), "B's cursor");
}
iso('GET /v1/terraform/state/{resourceId}', 'notFound', () => ({ method: 'GET', url: `/v1/terraform/state/${b.vmId}` }));
iso('GET /v1/terraform/state/{resourceId}', 'notFound', (role) => ({
  method: 'GET', url: `/v1/terraform/state/${b.vmId}`, headers: { authorization: `Basic ${Buffer.from(`terraform:${a.keys[role]}`).toString('base64')}` },
}), 'HTTP Basic, as terraform sends');
iso('POST /v1/terraform/state/{resourceId}', 'notFound', () => ({ method: 'POST', url: `/v1/terraform/state/${b.vmId}?ID=${b.lockId}`, payload: stateBody(2, `lineage-${b.token}`, 'overwritten') }));
iso('DELETE /v1/terraform/state/{resourceId}', 'notFound', () => ({ method: 'DELETE', url: `/v1/terraform/state/${b.vmId}` }));
iso('LOCK /v1/terraform/state/{resourceId}', 'notFound', () => ({ method: 'LOCK', url: `/v1/terraform/state/${b.networkId}`, payload: lockInfo('intruder') }));
iso('UNLOCK /v1/terraform/state/{resourceId}', 'notFound', () => ({ method: 'UNLOCK', url: `/v1/terraform/state/${b.vmId}`, payload: b.lockBody }), "with B's lock id");
iso('UNLOCK /v1/terraform/state/{resourceId}', 'notFound', () => ({ method: 'UNLOCK', url: `/v1/terraform/state/${b.vmId}` }), 'empty body (force-unlock)');

/** The same request with each of B's ids swapped for an id that exists nowhere. */
function withUnknownIds(r: Req): Req {
  let url = r.url;
  let payload = typeof r.payload === 'string' ? r.payload : r.payload === undefined ? undefined : JSON.stringify(r.payload);
  for (const id of idsOf(b)) {
    const unknown = randomUUID();
    url = url.replaceAll(id, unknown);
    payload = payload?.replaceAll(id, unknown);
  }
  return { ...r, url, ...(payload !== undefined && { payload: typeof r.payload === 'string' ? payload : JSON.parse(payload) }) };
}

/** An answer with its request id gone and every uuid in it replaced, so two answers about two ids compare equal. */
function normalized(res: LightMyRequestResponse): string {
  let text = res.body;
  try {
    const body = JSON.parse(text);
    if (body && typeof body === 'object') delete body.requestId;
    text = JSON.stringify(body);
  } catch { /* plain text */ }
  return text.replaceAll(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>');
}

function errorCode(res: LightMyRequestResponse): string | undefined {
  try {
    return res.json().error?.code;
  } catch {
    return undefined;
  }
}

const opsOf = (doc: { paths: Record<string, Record<string, unknown>> }) =>
  Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));

describe('isolation between accounts', () => {
  it('covers every /v1 operation of the OpenAPI document', async () => {
    const documented = opsOf((await send(null, { method: 'GET', url: '/openapi.json' })).json()).filter((op) => op.includes(' /v1/'));
    expect(documented.length).toBeGreaterThan(45);
    expect([...new Set(ISO.map((c) => c.op))].sort()).toEqual([...documented].sort());
  });

  it('attacks every reference field the API accepts (bodies, specs and query strings) with B\'s ids', async () => {
    const doc = (await send(null, { method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> } }>>;
    };
    const accepted = new Set<string>(['POST /v1/resources spec.networkResourceId', 'PATCH /v1/resources/{id} spec.networkResourceId']);
    const isReference = (name: string) => /(Id|Ids)$/.test(name) || name === 'actor' || name === 'ID';
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const name = `${method.toUpperCase()} ${path}`;
        for (const p of op.parameters ?? []) if (p.in === 'query' && isReference(p.name)) accepted.add(`${name} ${p.name}`);
        for (const field of Object.keys(op.requestBody?.content['application/json']?.schema.properties ?? {})) if (isReference(field)) accepted.add(`${name} ${field}`);
      }
    }
    expect(accepted.size).toBeGreaterThan(10);
    // Which fields the cases of this file fill with one of B's ids.
    const bIds = new Set(idsOf(b));
    const attacked = new Set<string>();
    const walk = (op: string, value: unknown, at: string) => {
      if (typeof value === 'string' && bIds.has(value)) attacked.add(`${op} ${at}`);
      if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(op, v, at ? `${at}.${k}` : k);
    };
    for (const c of ISO.filter((c) => c.kind !== 'free')) {
      const req = c.build('admin');
      const url = new URL(req.url, 'http://x');
      for (const [k, v] of url.searchParams) walk(c.op, v, k);
      walk(c.op, typeof req.payload === 'string' ? undefined : req.payload, '');
    }
    expect([...accepted].filter((f) => !attacked.has(f))).toEqual([]);
  });

  it("answers account A's every call, with each role, with B's ids as for unknown ids, never with B's data, and changes nothing of B", async () => {
    const before = await snapshot(b.accountId);
    const jobsBefore = await jobsNaming(b);
    expect(jobsBefore.length, 'B has queued jobs to watch').toBeGreaterThan(0);
    const problems: string[] = [];
    for (const role of ROLES) {
      for (const c of ISO) {
        const name = `${role}: ${c.op}${c.label ? ` (${c.label})` : ''}`;
        const req = c.build(role);
        const res = await send(a.keys[role], req);
        const leaks = leaked(b, req, res.body);
        if (leaks.length > 0) problems.push(`${name}: ${res.statusCode} shows B's ${leaks.join(', ')}`);
        if (res.statusCode >= 500) problems.push(`${name}: ${res.statusCode} ${res.body}`);
        if (RANK[role] < RANK[routeMinRole(c.op)]) {
          // The route is above this role whatever the id: 403 before any lookup, so it tells nothing about B.
          if (res.statusCode !== 403) problems.push(`${name}: expected 403 (role), got ${res.statusCode} ${res.body}`);
        } else {
          if (res.statusCode === 403) problems.push(`${name}: 403 ${res.body}`);
          if (c.kind === 'notFound' && (res.statusCode !== 404 || errorCode(res) !== 'not_found')) problems.push(`${name}: expected 404, got ${res.statusCode} ${res.body}`);
          if (c.kind === 'free' && (res.statusCode < 200 || res.statusCode > 299)) problems.push(`${name}: expected 2xx, got ${res.statusCode} ${res.body}`);
          if (c.kind !== 'free') {
            // Another account's id is indistinguishable from one that exists nowhere: same status, same answer.
            const control = await send(a.keys[role], withUnknownIds(req));
            if (control.statusCode !== res.statusCode || normalized(control) !== normalized(res)) {
              problems.push(`${name}: B's id answers ${res.statusCode} ${normalized(res)}, an unknown id ${control.statusCode} ${normalized(control)}`);
            }
            if (c.kind === 'filter' && res.statusCode === 200 && /"items":\[[^\]]/.test(res.body)) problems.push(`${name}: items for B's id: ${res.body}`);
          }
        }
        if (c.ownSees && role === 'admin') {
          // The check above is not vacuous: B's own key sees its data in the same answer.
          const own = await send(b.keys.admin, req);
          if (own.statusCode !== 200 || leaked(b, { method: 'GET', url: '' }, own.body).length === 0) problems.push(`${name}: B's own answer shows none of B's data: ${own.body.slice(0, 300)}`);
        }
        const after = await snapshot(b.accountId);
        const changed = Object.keys(before).filter((t) => before[t] !== after[t]);
        if (changed.length > 0) {
          problems.push(`${name}: changed B's ${changed.join(', ')}`);
          Object.assign(before, after);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(await jobsNaming(b)).toEqual(jobsBefore);
    // B's objects are all still there and as they were, seen by B.
    expect((await ok(b.keys.admin, { method: 'GET', url: '/v1/users?limit=500' })).items.map((u: { id: string; role: string; active: boolean }) => [u.id, u.role, u.active]))
      .toEqual(expect.arrayContaining([[b.userIds.viewer, 'viewer', true], [b.userIds.admin, 'admin', true], [b.userIds.operator, 'operator', true]]));
    expect((await ok(b.keys.admin, { method: 'GET', url: `/v1/operations/${b.waitingOperationId}` })).status).toBe('awaiting_approval');
    expect((await ok(b.keys.admin, { method: 'GET', url: `/v1/operations/${b.queuedOperationId}` })).status).toBe('queued');
    expect((await ok(b.keys.admin, { method: 'GET', url: `/v1/resources/${b.vmId}/states` })).items).toHaveLength(1);
    expect(await ok(b.keys.admin, { method: 'GET', url: `/v1/resources/${b.vmId}/states/1` })).toMatchObject({ outputs: { marker: { value: b.stateMarker } } });
    expect((await send(b.keys.admin, { method: 'LOCK', url: `/v1/terraform/state/${b.vmId}`, payload: lockInfo('b-again') })).statusCode).toBe(423);
    expect((await ok(b.keys.admin, { method: 'GET', url: '/v1/schedules' })).healthMinutes).not.toBe(7);
    expect((await dashboard(b.dashboardCookie, 'GET', '/admin/queues/api/queues')).statusCode).toBe(200);
  }, 60_000);

  it("keeps each account's names, emails and Idempotency-Keys its own: A may reuse B's, and B's stay untouched", async () => {
    const before = await snapshot(b.accountId);
    await ok(a.keys.admin, { method: 'POST', url: '/v1/users', payload: { email: b.emails.viewer, role: 'viewer' } }, 201);
    await ok(a.keys.admin, { method: 'POST', url: '/v1/api-keys', payload: { name: `${b.token}-key` } }, 201);
    await ok(a.keys.admin, { method: 'POST', url: '/v1/credentials', payload: { name: b.credentialName, provider: 'sandbox', secret: {} } }, 201);
    const sameName = await ok(a.keys.admin, {
      method: 'POST', url: '/v1/resources', payload: { name: `${b.token}-vm`, provider: 'sandbox', type: 'vm', region: 'local', credentialId: a.credentialId, spec: {} },
    }, 202);
    expect(sameName.resource.id).not.toBe(b.vmId);
    // B's Idempotency-Key with A's body: a new request of A's (no replay of B's answer, no conflict with B's body).
    const body = { name: `n-${hex()}`, provider: 'sandbox', type: 'network', region: 'local', credentialId: a.credentialId, spec: {} };
    const fresh = await ok(a.keys.admin, { method: 'POST', url: '/v1/resources', headers: { 'idempotency-key': b.idempotencyKey }, payload: body }, 202);
    expect([b.networkId, a.networkId]).not.toContain(fresh.resource.id);
    const replay = await ok(a.keys.admin, { method: 'POST', url: '/v1/resources', headers: { 'idempotency-key': b.idempotencyKey }, payload: body }, 202);
    expect(replay.resource.id).toBe(fresh.resource.id);
    expect(await snapshot(b.accountId)).toEqual(before);
    // B's own replay still answers B's network.
    const own = await ok(b.keys.admin, {
      method: 'POST', url: '/v1/resources', headers: { 'idempotency-key': b.idempotencyKey },
      payload: { name: `${b.token}-net`, provider: 'sandbox', type: 'network', region: 'local', credentialId: b.credentialId, spec: { label: b.token } },
    }, 202);
    expect(own.resource.id).toBe(b.networkId);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The role matrix, from the contract's words:
//   admin everything; operator: credentials, resources (and their operations, locks and states), syncs,
//   collections, checks and their schedules; viewer: read only, never state contents (GET .../states/:version and
//   the state backend are operator); users and audit events are admin; api-keys: everyone, on their own keys
//   (another user's keys: admin); /metrics: the installation's (an allowed address, its token or an installation
//   key; never an account's key); /admin/queues: every role reads its account's jobs, admins act on them, and whole
//   queues are the installation key's.

interface RoleCase { op: string; label?: string; minRole: Role; status: number; build: (caller: Role) => Promise<Req> }

const freshCredential = async () =>
  (await ok(a.keys.admin, { method: 'POST', url: '/v1/credentials', payload: { name: `c-${hex()}`, provider: 'sandbox', secret: {} } }, 201)).id as string;
const freshResource = async () => (await insertResource(ctx, a.accountId, { credentialId: a.credentialId })).id;
const freshUser = async () => ok(a.keys.admin, { method: 'POST', url: '/v1/users', payload: { email: `u-${hex()}@example.com`, role: 'viewer' } }, 201);
const lockedResource = async () => {
  const id = await freshResource();
  const body = lockInfo('someone@laptop');
  await ok(a.keys.admin, { method: 'LOCK', url: `/v1/terraform/state/${id}`, payload: body });
  return { id, body };
};
const get = (url: string) => async (): Promise<Req> => ({ method: 'GET', url });
/** Revokes the keys a caller made in earlier cases (a user holds at most 5 active keys), keeping the world's own. */
async function trimKeys(caller: Role): Promise<void> {
  const mine = (await ok(a.keys[caller], { method: 'GET', url: '/v1/api-keys?limit=500' })).items as { id: string; revokedAt: string | null }[];
  for (const k of mine) {
    if (!k.revokedAt && k.id !== a.keyIds[caller] && k.id !== a.extraKeyId) await ok(a.keys[caller], { method: 'DELETE', url: `/v1/api-keys/${k.id}` });
  }
}

const MATRIX: RoleCase[] = [
  { op: 'GET /v1/me', minRole: 'viewer', status: 200, build: get('/v1/me') },
  { op: 'POST /v1/users', minRole: 'admin', status: 201, build: async () => ({ method: 'POST', url: '/v1/users', payload: { email: `u-${hex()}@example.com`, role: 'viewer' } }) },
  { op: 'GET /v1/users', minRole: 'admin', status: 200, build: get('/v1/users') },
  { op: 'PATCH /v1/users/{id}', minRole: 'admin', status: 200, build: async () => ({ method: 'PATCH', url: `/v1/users/${(await freshUser()).id}`, payload: { role: 'operator' } }) },
  { op: 'DELETE /v1/users/{id}', minRole: 'admin', status: 200, build: async () => ({ method: 'DELETE', url: `/v1/users/${(await freshUser()).id}` }) },
  { op: 'POST /v1/users/{id}/api-keys', minRole: 'admin', status: 201, build: async () => ({ method: 'POST', url: `/v1/users/${(await freshUser()).id}/api-keys`, payload: { name: `k-${hex()}` } }) },
  { op: 'POST /v1/api-keys', minRole: 'viewer', status: 201, build: async (caller) => (await trimKeys(caller), { method: 'POST', url: '/v1/api-keys', payload: { name: `k-${hex()}`, expiresAt: new Date(Date.now() + 60_000).toISOString() } }) },
  { op: 'GET /v1/api-keys', minRole: 'viewer', status: 200, build: get('/v1/api-keys') },
  { op: 'GET /v1/api-keys', label: "another user's, ?userId=", minRole: 'admin', status: 200, build: async () => ({ method: 'GET', url: `/v1/api-keys?userId=${(await freshUser()).id}` }) },
  {
    op: 'DELETE /v1/api-keys/{id}', label: 'its own', minRole: 'viewer', status: 200,
    build: async (caller) => (await trimKeys(caller), { method: 'DELETE', url: `/v1/api-keys/${(await ok(a.keys[caller], { method: 'POST', url: '/v1/api-keys', payload: { name: `k-${hex()}` } }, 201)).id}` }),
  },
  { op: 'DELETE /v1/api-keys/{id}', label: "another user's", minRole: 'admin', status: 200, build: async () => ({ method: 'DELETE', url: `/v1/api-keys/${(await freshUser()).apiKey.id}` }) },
  { op: 'POST /v1/credentials', minRole: 'operator', status: 201, build: async () => ({ method: 'POST', url: '/v1/credentials', payload: { name: `c-${hex()}`, provider: 'sandbox', secret: {} } }) },
  { op: 'GET /v1/credentials', minRole: 'viewer', status: 200, build: get('/v1/credentials') },
  { op: 'GET /v1/credentials/aws-external-id', minRole: 'viewer', status: 200, build: get('/v1/credentials/aws-external-id') },
  { op: 'GET /v1/credentials/{id}', minRole: 'viewer', status: 200, build: async () => ({ method: 'GET', url: `/v1/credentials/${a.credentialId}` }) },
  { op: 'DELETE /v1/credentials/{id}', minRole: 'operator', status: 204, build: async () => ({ method: 'DELETE', url: `/v1/credentials/${await freshCredential()}` }) },
  { op: 'PUT /v1/credentials/{id}/secret', minRole: 'operator', status: 200, build: async () => ({ method: 'PUT', url: `/v1/credentials/${await freshCredential()}/secret`, payload: { secret: {} } }) },
  { op: 'GET /v1/audit-events', minRole: 'admin', status: 200, build: get('/v1/audit-events') },
  {
    op: 'POST /v1/resources', minRole: 'operator', status: 202,
    build: async () => ({ method: 'POST', url: '/v1/resources', payload: { name: `r-${hex()}`, provider: 'sandbox', type: 'storage', region: 'local', credentialId: a.credentialId, spec: {} } }),
  },
  { op: 'GET /v1/resources', minRole: 'viewer', status: 200, build: get('/v1/resources') },
  { op: 'GET /v1/resources/{id}', minRole: 'viewer', status: 200, build: async () => ({ method: 'GET', url: `/v1/resources/${a.vmId}` }) },
  { op: 'PATCH /v1/resources/{id}', minRole: 'operator', status: 202, build: async () => ({ method: 'PATCH', url: `/v1/resources/${await freshResource()}`, payload: { spec: { size: 'large' } } }) },
  { op: 'DELETE /v1/resources/{id}', minRole: 'operator', status: 202, build: async () => ({ method: 'DELETE', url: `/v1/resources/${await freshResource()}` }) },
  { op: 'GET /v1/resources/{id}/states', minRole: 'viewer', status: 200, build: async () => ({ method: 'GET', url: `/v1/resources/${a.vmId}/states` }) },
  { op: 'GET /v1/resources/{id}/states/{version}', minRole: 'operator', status: 200, build: async () => ({ method: 'GET', url: `/v1/resources/${a.vmId}/states/1` }) },
  { op: 'DELETE /v1/resources/{id}/lock', minRole: 'operator', status: 200, build: async () => ({ method: 'DELETE', url: `/v1/resources/${(await lockedResource()).id}/lock` }) },
  { op: 'GET /v1/resources/{id}/cost', minRole: 'viewer', status: 200, build: async () => ({ method: 'GET', url: `/v1/resources/${a.vmId}/cost?${costRange()}` }) },
  { op: 'GET /v1/operations', minRole: 'viewer', status: 200, build: get('/v1/operations') },
  { op: 'GET /v1/operations/{id}', minRole: 'viewer', status: 200, build: async () => ({ method: 'GET', url: `/v1/operations/${a.queuedOperationId}` }) },
  { op: 'GET /v1/operations/{id}/log', minRole: 'viewer', status: 200, build: async () => ({ method: 'GET', url: `/v1/operations/${a.queuedOperationId}/log` }) },
  {
    op: 'POST /v1/operations/{id}/approve', minRole: 'operator', status: 200,
    build: async () => ({ method: 'POST', url: `/v1/operations/${await insertOperation(a.accountId, await freshResource(), 'awaiting_approval')}/approve` }),
  },
  {
    op: 'POST /v1/operations/{id}/cancel', minRole: 'operator', status: 200,
    build: async () => ({ method: 'POST', url: `/v1/operations/${await insertOperation(a.accountId, await freshResource(), 'queued')}/cancel` }),
  },
  { op: 'GET /v1/inventory', minRole: 'viewer', status: 200, build: get('/v1/inventory') },
  { op: 'GET /v1/inventory/summary', minRole: 'viewer', status: 200, build: get('/v1/inventory/summary') },
  { op: 'POST /v1/inventory/sync', minRole: 'operator', status: 202, build: async () => ({ method: 'POST', url: '/v1/inventory/sync', payload: { credentialId: await freshCredential() } }) },
  { op: 'GET /v1/inventory/runs', minRole: 'viewer', status: 200, build: get('/v1/inventory/runs') },
  { op: 'GET /v1/inventory/runs/{id}', minRole: 'viewer', status: 200, build: async () => ({ method: 'GET', url: `/v1/inventory/runs/${a.syncRunId}` }) },
  { op: 'GET /v1/health/providers', minRole: 'viewer', status: 200, build: get('/v1/health/providers') },
  { op: 'GET /v1/health/providers/{credentialId}/history', minRole: 'viewer', status: 200, build: async () => ({ method: 'GET', url: `/v1/health/providers/${a.credentialId}/history` }) },
  { op: 'POST /v1/health/check', minRole: 'operator', status: 202, build: async () => ({ method: 'POST', url: '/v1/health/check', payload: { credentialId: a.credentialId } }) },
  { op: 'GET /v1/schedules', minRole: 'viewer', status: 200, build: get('/v1/schedules') },
  { op: 'PUT /v1/schedules', minRole: 'operator', status: 200, build: async () => ({ method: 'PUT', url: '/v1/schedules', payload: { healthMinutes: 30 + Math.floor(Math.random() * 100) } }) },
  { op: 'GET /v1/costs', minRole: 'viewer', status: 200, build: async () => ({ method: 'GET', url: `/v1/costs?${costRange()}` }) },
  { op: 'POST /v1/costs/collect', minRole: 'operator', status: 202, build: async () => ({ method: 'POST', url: '/v1/costs/collect', payload: { credentialId: a.credentialId } }) },
  { op: 'GET /v1/costs/runs', minRole: 'viewer', status: 200, build: get('/v1/costs/runs') },
  { op: 'GET /v1/costs/runs/{id}', minRole: 'viewer', status: 200, build: async () => ({ method: 'GET', url: `/v1/costs/runs/${a.costRunId}` }) },
  { op: 'GET /v1/queues', minRole: 'viewer', status: 200, build: get('/v1/queues') },
  { op: 'GET /v1/terraform/state/{resourceId}', minRole: 'operator', status: 200, build: async () => ({ method: 'GET', url: `/v1/terraform/state/${a.vmId}` }) },
  {
    op: 'POST /v1/terraform/state/{resourceId}', minRole: 'operator', status: 200,
    build: async () => ({ method: 'POST', url: `/v1/terraform/state/${await freshResource()}`, payload: stateBody(1, `l-${hex()}`, 'x') }),
  },
  {
    op: 'DELETE /v1/terraform/state/{resourceId}', minRole: 'operator', status: 200,
    build: async () => {
      const id = await freshResource();
      await ok(a.keys.admin, { method: 'POST', url: `/v1/terraform/state/${id}`, payload: stateBody(1, `l-${hex()}`, 'x') });
      return { method: 'DELETE', url: `/v1/terraform/state/${id}` };
    },
  },
  { op: 'LOCK /v1/terraform/state/{resourceId}', minRole: 'operator', status: 200, build: async () => ({ method: 'LOCK', url: `/v1/terraform/state/${await freshResource()}`, payload: lockInfo('me@laptop') }) },
  {
    op: 'UNLOCK /v1/terraform/state/{resourceId}', minRole: 'operator', status: 200,
    build: async () => {
      const { id, body } = await lockedResource();
      return { method: 'UNLOCK', url: `/v1/terraform/state/${id}`, payload: body };
    },
  },
];

/** The route's own minimum role: its first row in the matrix (later rows are stricter uses of the same route). */
const routeMinRole = (op: string): Role => MATRIX.find((c) => c.op === op)!.minRole;

const CASES = MATRIX.flatMap((c) => ROLES.map((role) => ({ ...c, role, allowed: RANK[role] >= RANK[c.minRole] })));

describe('role matrix', () => {
  it('has a row for every /v1 operation of the OpenAPI document', async () => {
    const documented = opsOf((await send(null, { method: 'GET', url: '/openapi.json' })).json()).filter((op) => op.includes(' /v1/'));
    expect([...new Set(MATRIX.map((c) => c.op))].sort()).toEqual([...documented].sort());
  });

  const viewerAnswers: string[] = [];

  it.each(CASES.map((c) => [`${c.op}${c.label ? ` (${c.label})` : ''}: ${c.role} ${c.allowed ? `gets ${c.status}` : 'gets 403 and changes nothing'}`, c] as const))('%s', async (_name, c) => {
    const req = await c.build(c.role);
    const before = c.allowed ? undefined : await snapshot(a.accountId);
    const jobsBefore = c.allowed ? undefined : await jobsNaming(a);
    const res = await send(a.keys[c.role], req);
    if (c.role === 'viewer' && res.statusCode < 300) viewerAnswers.push(res.body);
    if (c.allowed) {
      expect(res.statusCode, res.body).toBe(c.status);
    } else {
      expect(res.statusCode, res.body).toBe(403);
      expect(res.json()).toMatchObject({ error: { code: 'forbidden' }, requestId: res.headers['x-request-id'] });
      expect(await snapshot(a.accountId)).toEqual(before);
      expect(await jobsNaming(a)).toEqual(jobsBefore);
    }
  });

  it('never shows a viewer state contents, which operators and admins can read', async () => {
    expect(viewerAnswers.length).toBeGreaterThan(20);
    expect(viewerAnswers.filter((body) => body.includes(a.stateMarker))).toEqual([]);
    for (const role of ['admin', 'operator'] as const) {
      expect((await send(a.keys[role], { method: 'GET', url: `/v1/terraform/state/${a.vmId}` })).body).toContain(a.stateMarker);
    }
  });

  it('answers 401 on every /v1 path without a valid key, before anything else', async () => {
    await trimKeys('admin');
    const revoked = await ok(a.keys.admin, { method: 'POST', url: '/v1/api-keys', payload: { name: `gone-${hex()}` } }, 201);
    await ok(a.keys.admin, { method: 'DELETE', url: `/v1/api-keys/${revoked.id}` });
    const expired = await ok(a.keys.admin, { method: 'POST', url: '/v1/api-keys', payload: { name: `old-${hex()}` } }, 201);
    await exec("update api_keys set expires_at = now() - interval '1 minute' where id = ?", [expired.id]);
    const deactivated = await freshUser();
    await ok(a.keys.admin, { method: 'PATCH', url: `/v1/users/${deactivated.id}`, payload: { active: false } });
    const bad: (Record<string, string> | undefined)[] = [
      bearer(expired.key),
      bearer(deactivated.apiKey.key),
      undefined,
      { authorization: 'Bearer nope' },
      { authorization: `Bearer sky_${'x'.repeat(36)}` },
      bearer(revoked.key),
      { authorization: `Basic ${Buffer.from(`u:${revoked.key}`).toString('base64')}` },
    ];
    const before = await snapshot(a.accountId);
    const problems: string[] = [];
    for (const c of [...ISO, { op: 'GET /v1/nothing-here', label: 'unknown path', build: () => ({ method: 'GET', url: '/v1/nothing-here' }) }]) {
      const req = withUnknownIds(c.build('admin'));
      for (const headers of bad) {
        const res = await ctx.app.inject({
          method: req.method as 'GET', url: req.url,
          headers: { ...req.headers, authorization: '', ...headers, ...(typeof req.payload === 'string' && { 'content-type': 'application/json' }) },
          ...(req.payload !== undefined && { payload: req.payload }),
        });
        if (res.statusCode !== 401 || errorCode(res) !== 'unauthorized') problems.push(`${c.op} with ${JSON.stringify(headers ?? 'no key')}: ${res.statusCode} ${res.body}`);
      }
    }
    expect(problems).toEqual([]);
    expect(await snapshot(a.accountId)).toEqual(before);
  });

  it('lets an installation key or an allowed address read /metrics, never an account key', async () => {
    const metrics = (key: string | null, remoteAddress: string, header?: string) =>
      ctx.app.inject({ method: 'GET', url: '/metrics', remoteAddress, headers: header ? { authorization: header } : key ? bearer(key) : {} });
    const outside = '203.0.113.9';
    const installation = (await createInstallationKey(ctx.orm.em.fork(), 'isolation')).key;
    expect((await metrics(installation, outside)).statusCode).toBe(200);
    expect((await metrics(null, outside, `Basic ${Buffer.from(`x:${installation}`).toString('base64')}`)).statusCode).toBe(200);
    for (const role of ROLES) {
      for (const from of [outside, '127.0.0.1']) {
        const res = await metrics(a.keys[role], from);
        expect(res.statusCode, `${role} from ${from}: ${res.body}`).toBe(403);
        expect(res.body).not.toContain('skyloft_');
      }
    }
    expect((await metrics(null, outside)).statusCode).toBe(403);
    expect((await metrics(`sky_${'y'.repeat(36)}`, outside)).statusCode).toBe(401);
    expect((await metrics(null, outside, `Bearer ${a.keys.admin}x`)).statusCode).toBe(401);
    // The default allow-list: loopback reads without a key; X-Forwarded-For is not believed.
    expect((await metrics(null, '127.0.0.1')).statusCode).toBe(200);
    expect((await ctx.app.inject({ method: 'GET', url: '/metrics', remoteAddress: outside, headers: { 'x-forwarded-for': '127.0.0.1' } })).statusCode).toBe(403);
  });

  it("lets every role read its account's queue dashboard, only admins act on its jobs, and none on a whole queue", async () => {
    const health = ctx.deps.queues.get('health');
    for (const role of ROLES) {
      const cookie = await signIn(a.keys[role]);
      expect((await dashboard(cookie, 'GET', '/admin/queues/api/queues')).statusCode).toBe(200);
      const retry = await dashboard(cookie, 'PUT', '/admin/queues/api/queues/health/retry/failed');
      expect(retry.statusCode, retry.body).toBe(role === 'admin' ? 200 : 403);
      const pause = await dashboard(cookie, 'PUT', '/admin/queues/api/queues/health/pause');
      expect(pause.statusCode, pause.body).toBe(403);
      expect(await health.isPaused()).toBe(false);
    }
  });

  it('answers an installation key 403 on every /v1 operation, and it changes nothing', async () => {
    const installation = (await createInstallationKey(ctx.orm.em.fork(), 'matrix')).key;
    const problems: string[] = [];
    for (const c of MATRIX) {
      const req = await c.build('admin');
      const beforeThis = await snapshot(a.accountId);
      const res = await send(installation, req);
      if (res.statusCode !== 403 || errorCode(res) !== 'forbidden') problems.push(`${c.op}: ${res.statusCode} ${res.body}`);
      if (leaked(a, req, res.body).length > 0) problems.push(`${c.op} shows A's data: ${res.body}`);
      // The case's own fixtures were made by A's admin just now; the key's call must change nothing of A's.
      expect(await snapshot(a.accountId), c.op).toEqual(beforeThis);
    }
    expect(problems).toEqual([]);
  });
});
