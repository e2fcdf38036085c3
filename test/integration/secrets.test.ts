import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64Forms } from '../../src/clouds/terraform/redact.ts';
import { startEmulator } from '../emulator/emulator.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';
import { closeEmulated, startWorkersOnEmulator } from '../support/emulated-workers.ts';
import { databaseUrl } from '../support/env.ts';

/**
 * Known marker secrets fed through every feature ("Proof under fire"): credential create and rotate with valid and
 * invalid bodies, SDK calls that fail against the emulator once the keys are revoked, inventory, cost collection, a sandbox resource
 * created, updated and destroyed through real terraform, and a state backend POST whose state holds a sensitive
 * output that the update's terraform then reads. Afterwards no marker may be anywhere: logs, API answers, operation
 * logs, the Redis keyspace, a plaintext pg_dump, or a terraform work directory left on disk.
 */
const mark = (what: string) => `mk${what}${randomBytes(12).toString('hex')}`;
const AWS_SECRET = mark('aws');
const AWS_SECRET_ROTATED = mark('awsrot');
const AZURE_SECRET = mark('azure');
const GCP_KEY = mark('gcp');
const GCP_KEY_BROKEN_JSON = mark('gcpjson');
const SPEC_SECRET = mark('spec');
const STATE_SECRET = mark('state');
const INVALID_SECRET = mark('invalid');
const AWS_KEY_ID = 'AKIASKYLOFTLOGTEST01';
const AZURE_CLIENT = '7d0c5d9e-1111-4222-8333-944455556666';
/**
 * The spec is the user's own data, not a secret (the contract returns it in every resource read, viewers included,
 * and the operation log shows it as terraform's planned change): it may be in answers, operation logs and the
 * database, but never in a log line, Redis, or a work directory left behind.
 */
const USER_DATA = ['SPEC_SECRET'];
/**
 * GET /v1/resources/:id/states/:version returns the decrypted state to admin and operator by contract: the only
 * answer allowed to hold STATE_SECRET, so it is left out of the recorded answers (and checked to hold it).
 */
const STATE_CONTENTS = /^\/v1\/resources\/[^/]+\/states\/[^/?]+$/;

type Emulator = Awaited<ReturnType<typeof startEmulator>>;
let ctx: TestContext;
let emu: Emulator;
let stopWorkers: () => Promise<void>;
let apiKey: string;
let markers: Record<string, string>;
const answers: { what: string; text: string }[] = [];
// Workers put their work directories under os.tmpdir() (workers/workdirs.ts): this file's own, searched at the end.
const previousTmp = process.env.TMPDIR;
const testTmp = mkdtempSync(join(tmpdir(), 'skyloft-secrets-'));
chmodSync(testTmp, 0o711); // passable by the uid terraform runs as (src/clouds/terraform/uids.ts)
const workerDir = join(testTmp, `skyloft-worker-${process.pid}`);

beforeAll(async () => {
  process.env.TMPDIR = testTmp;
  ctx = await createTestContext(); // LOG_LEVEL=debug
  emu = await startEmulator({
    seed: 5,
    aws: { regions: ['us-east-1'], keys: [{ accessKeyId: AWS_KEY_ID, secretAccessKey: AWS_SECRET, accountId: '123456789012' }], counts: { instances: 3 } },
    azure: { locations: ['eastus'], clientId: AZURE_CLIENT, clientSecret: AZURE_SECRET },
    gcp: { zones: ['us-central1-a'] },
  });
  stopWorkers = await startWorkersOnEmulator(ctx, emu);
  apiKey = (await ctx.bootstrap()).apiKey;
  markers = { AWS_SECRET, AWS_SECRET_ROTATED, AZURE_SECRET, GCP_KEY, GCP_KEY_BROKEN_JSON, SPEC_SECRET, STATE_SECRET, INVALID_SECRET, apiKey, masterKey: ctx.config.masterKey! };
}, 60_000);

afterAll(async () => {
  await closeEmulated({ stopWorkers, emu, ctx });
  if (previousTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = previousTmp;
  rmSync(testTmp, { recursive: true, force: true });
});

/** Every form a marker can take: itself, its base64 forms (as redact.ts redacts them) and hex (pg_dump's bytea). */
function formsOf(marker: string): string[] {
  const b64 = base64Forms(marker).flatMap((b) => [b, b.replaceAll('+', '-').replaceAll('/', '_')]);
  return [marker, ...b64, Buffer.from(marker, 'utf8').toString('hex')];
}

/** The names of the markers that `text` holds in any form, leaving out `allowed` ones. */
function leaksIn(text: string, allowed: readonly string[] = []): string[] {
  return Object.entries(markers)
    .filter(([name, marker]) => !allowed.includes(name) && formsOf(marker).some((f) => text.includes(f)))
    .map(([name]) => name);
}

/** A JSON body is sent as JSON; a string as a raw (possibly broken) JSON text. Every answer is recorded. */
async function call(method: string, url: string, body?: unknown, headers: Record<string, string> = bearer(apiKey)) {
  const payload = typeof body === 'string' ? { payload: body, headers: { ...headers, 'content-type': 'application/json' } } : { headers, ...(body !== undefined && { payload: body as object }) };
  const res = await ctx.app.inject({ method: method as 'POST', url, ...payload });
  if (!STATE_CONTENTS.test(url)) answers.push({ what: `${method} ${url} -> ${res.statusCode}`, text: `${Object.values(res.headers).join('\n')}\n${res.body}` });
  return res;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 200))) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

/** Runs a health check of the credential and waits for that check's result (not one queued by a create or rotate). */
async function checkHealth(credentialId: string): Promise<{ status: string; errorMessage: string | null }> {
  const res = await call('POST', '/v1/health/check', { credentialId });
  expect(res.statusCode, res.body).toBe(202);
  const [checkId] = res.json().runIds as string[];
  return until(`health check ${checkId}`, async () => {
    const items = (await call('GET', `/v1/health/providers/${credentialId}/history?limit=500`)).json().items as { id: string; status: string; errorMessage: string | null }[];
    return items.find((c) => c.id === checkId);
  });
}

async function syncAndWait(credentialId: string): Promise<{ status: string }> {
  const res = await call('POST', '/v1/inventory/sync', { credentialId });
  expect(res.statusCode, res.body).toBe(202);
  const [runId] = res.json().runIds as string[];
  return until(`sync run ${runId}`, async () => {
    const run = (await call('GET', `/v1/inventory/runs/${runId}`)).json();
    return run.status === 'running' ? undefined : run;
  });
}

/** Runs a cost collection of the credential and waits for every collection run of it to settle; returns that run. */
async function collectAndWait(credentialId: string): Promise<{ status: string; errors: unknown }> {
  const res = await call('POST', '/v1/costs/collect', { credentialId });
  expect(res.statusCode, res.body).toBe(202);
  const [runId] = res.json().runIds as string[];
  return until(`collection run ${runId}`, async () => {
    const runs = (await call('GET', `/v1/costs/runs?credentialId=${credentialId}&limit=100`)).json().items as { id: string; status: string; errors: unknown }[];
    const run = runs.find((r) => r.id === runId);
    return run && runs.every((r) => r.status === 'succeeded' || r.status === 'failed') ? run : undefined;
  });
}

/** Sends a resource mutation and waits for its operation to succeed; returns the operation id. */
async function operate(method: string, url: string, body?: unknown): Promise<string> {
  const res = await call(method, url, body);
  expect(res.statusCode, res.body).toBe(202);
  const id = res.json().operation.id as string;
  const op = await until(`operation ${id}`, async () => {
    const o = (await call('GET', `/v1/operations/${id}`)).json();
    return ['succeeded', 'failed', 'canceled'].includes(o.status) ? o : undefined;
  });
  expect(op.status, op.error).toBe('succeeded');
  return id;
}

/** Every key under the prefix (SCAN) with its value read by its type, as text. */
async function redisKeyspace(redis: Redis, prefix: string): Promise<Map<string, string>> {
  const readers: Record<string, (key: string) => Promise<unknown>> = {
    string: (k) => redis.get(k),
    hash: (k) => redis.hgetall(k),
    list: (k) => redis.lrange(k, 0, -1),
    set: (k) => redis.smembers(k),
    zset: (k) => redis.zrange(k, 0, -1, 'WITHSCORES'),
    stream: (k) => redis.xrange(k, '-', '+'),
    none: async () => null, // expired between SCAN and TYPE
  };
  const found = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    for (const key of keys) {
      const type = await redis.type(key);
      if (!readers[type]) throw new Error(`Redis key ${key} has type ${type}, which this test cannot read yet`);
      found.set(key, JSON.stringify(await readers[type](key)));
    }
    cursor = next;
  } while (cursor !== '0');
  return found;
}

/** Every file under `dir`, recursively, with its bytes as latin1 text (a marker is ASCII in any encoding). */
function filesUnder(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile()) files.set(path, readFileSync(path).toString('latin1'));
  }
  return files;
}

/** Names of the work directories that appear under the worker's folder while `work` runs (proof of where they go). */
async function watchingWorkdirs(work: () => Promise<void>): Promise<Set<string>> {
  const seen = new Set<string>();
  const poll = setInterval(() => existsSync(workerDir) && readdirSync(workerDir).forEach((n) => seen.add(n)), 50);
  try {
    await work();
  } finally {
    clearInterval(poll);
  }
  return seen;
}

describe('secrets fed through every feature', () => {
  const ids: Record<string, string> = {};
  const operationIds: string[] = [];
  let resourceId: string;
  let workdirsSeen: Set<string>;

  it('exercise credentials, health checks, inventory, provisioning and the state backend', async () => {
    const gcpSa = emu.credentials.gcp.serviceAccountKey;
    const bodies = {
      aws: { name: 'aws', provider: 'aws', region: 'us-east-1', endpoints: { api: emu.urls.aws }, secret: { accessKeyId: AWS_KEY_ID, secretAccessKey: AWS_SECRET } },
      azure: {
        name: 'azure',
        provider: 'azure',
        endpoints: { api: emu.urls.azure, authorityHost: emu.credentials.azure.authorityHost },
        secret: { tenantId: emu.credentials.azure.tenantId, clientId: AZURE_CLIENT, clientSecret: AZURE_SECRET, subscriptionId: emu.credentials.azure.subscriptionId },
      },
      // A private key that is not a key: signing fails inside the SDK, whose error must not carry it.
      gcp: {
        name: 'gcp',
        provider: 'gcp',
        endpoints: { api: emu.urls.gcp },
        secret: { projectId: emu.credentials.gcp.projectId, serviceAccountJson: JSON.stringify({ ...gcpSa, private_key: `-----BEGIN PRIVATE KEY-----\n${GCP_KEY}\n-----END PRIVATE KEY-----\n` }) },
      },
      sandbox: { name: 'sandbox', provider: 'sandbox', secret: {} },
    };
    for (const [k, body] of Object.entries(bodies)) {
      const res = await call('POST', '/v1/credentials', body);
      expect(res.statusCode, res.body).toBe(201);
      ids[k] = res.json().id;
    }
    expect((await checkHealth(ids.aws!)).status).toMatch(/healthy|degraded/);
    expect((await checkHealth(ids.azure!)).status).toMatch(/healthy|degraded/);
    expect((await checkHealth(ids.gcp!)).status).toBe('error');
    expect((await syncAndWait(ids.aws!)).status).toMatch(/succeeded|partial|completed/);
    expect((await collectAndWait(ids.aws!)).status).toBe('succeeded');
    expect((await collectAndWait(ids.azure!)).status).toBe('succeeded');
    expect((await collectAndWait(ids.gcp!)).status).toBe('failed');

    // Invalid bodies, each carrying a marker: validation answers must not echo it.
    const invalid: unknown[] = [
      { name: 'x', provider: 'aws', secret: { secretAccessKey: INVALID_SECRET } },
      { name: 'x', provider: 'aws', secret: { accessKeyId: 7, secretAccessKey: INVALID_SECRET } },
      { name: 'x', provider: 'aws', secret: { accessKeyId: 'AKIA', secretAccessKey: INVALID_SECRET, extra: INVALID_SECRET } },
      { name: 'x', provider: 'azure', secret: { clientSecret: INVALID_SECRET } },
      { name: 'x', provider: 'gcp', secret: { serviceAccountJson: INVALID_SECRET } },
      // Not even JSON (refused at request time): JSON.parse's message would quote the text it failed on.
      { name: 'gcp-broken', provider: 'gcp', secret: { projectId: 'p', serviceAccountJson: `{"private_key": "${GCP_KEY_BROKEN_JSON}" oops` } },
      { name: 'x', provider: INVALID_SECRET, secret: { secretAccessKey: INVALID_SECRET } },
      { name: INVALID_SECRET.repeat(40), provider: 'sandbox', secret: { password: INVALID_SECRET } },
      `{"name":"x","provider":"aws","secret":{"secretAccessKey":"${INVALID_SECRET}"`,
    ];
    for (const body of invalid) expect((await call('POST', '/v1/credentials', body)).statusCode).toBe(400);

    // Rotation, valid then invalid; then revoked keys: the SDKs' own errors through health checks and a sync.
    const rotated = await call('PUT', `/v1/credentials/${ids.aws}/secret`, { secret: { accessKeyId: AWS_KEY_ID, secretAccessKey: AWS_SECRET_ROTATED } });
    expect(rotated.statusCode, rotated.body).toBeLessThan(300);
    expect((await call('PUT', `/v1/credentials/${ids.azure}/secret`, { secret: { clientSecret: INVALID_SECRET } })).statusCode).toBe(400);
    expect(emu.revoke(AWS_KEY_ID)).toBe(true);
    expect(emu.revoke(AZURE_CLIENT)).toBe(true);
    expect([(await checkHealth(ids.aws!)).status, (await checkHealth(ids.azure!)).status]).toEqual(['error', 'error']);
    expect((await syncAndWait(ids.aws!)).status).toBe('failed');
    expect((await collectAndWait(ids.azure!)).status).toBe('failed');

    // A sandbox resource through real terraform: create; a state POST (as terraform sends it, HTTP Basic with the
    // API key) adding a sensitive output; an update whose plan reads that state; a destroy.
    workdirsSeen = await watchingWorkdirs(async () => {
      const create = { name: 'vm', provider: 'sandbox', type: 'vm', region: 'local', credentialId: ids.sandbox, spec: { password: SPEC_SECRET, note: SPEC_SECRET } };
      operationIds.push(await operate('POST', '/v1/resources', create));
      resourceId = (await call('GET', '/v1/resources')).json().items[0].id;
      const basic = { authorization: `Basic ${Buffer.from(`terraform:${apiKey}`).toString('base64')}` };
      const current = (await call('GET', `/v1/terraform/state/${resourceId}`, undefined, basic)).json();
      const next = { ...current, serial: current.serial + 1, outputs: { ...current.outputs, db_password: { value: STATE_SECRET, type: 'string', sensitive: true } } };
      expect((await call('POST', `/v1/terraform/state/${resourceId}`, JSON.stringify(next), basic)).statusCode).toBe(200);
      expect((await call('POST', `/v1/terraform/state/${resourceId}`, `{"outputs":{"p":{"value":"${STATE_SECRET}"`, basic)).statusCode).toBeGreaterThanOrEqual(400);
      const [latest] = (await call('GET', `/v1/resources/${resourceId}/states`)).json().items;
      expect((await call('GET', `/v1/resources/${resourceId}/states/${latest.version}`)).body).toContain(STATE_SECRET);
      operationIds.push(await operate('PATCH', `/v1/resources/${resourceId}`, { spec: { password: SPEC_SECRET, note: 'changed' } }));
      operationIds.push(await operate('DELETE', `/v1/resources/${resourceId}`));
    });

    // Something was logged on every path: requests, jobs (health, sync, provisioning) and their failures.
    const lines = ctx.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.msg === 'request completed').length).toBeGreaterThan(20);
    const jobs = lines.filter((l) => l.msg === 'job finished');
    for (const job of ['health-check', 'inventory-plan', 'cost-collect', 'provision']) expect(jobs.some((l) => l.job === job), job).toBe(true);
    expect(jobs.some((l) => l.outcome === 'failed' || l.outcome === 'retrying')).toBe(true);
  }, 240_000);

  it('leave no marker in any log line', () => {
    for (const line of ctx.logs) expect(leaksIn(line), line).toEqual([]);
  });

  it('leave no secret marker in any operation log, though each holds terraform output', async () => {
    for (const id of operationIds) {
      const log = await call('GET', `/v1/operations/${id}/log`);
      expect(log.statusCode).toBe(200);
      expect(log.body).toMatch(/terraform_data\.vm/);
      expect(leaksIn(log.body, USER_DATA), log.body).toEqual([]);
    }
    // The update's plan shows the state's sensitive output going away, masked by terraform itself.
    expect((await call('GET', `/v1/operations/${operationIds[1]}/log`)).body).toMatch(/db_password.*\(sensitive value\)/);
  });

  it('leave no secret marker in any API answer, headers included', () => {
    expect(answers.length).toBeGreaterThan(50);
    const leaked = answers.map((a) => ({ what: a.what, leaks: leaksIn(a.text, USER_DATA) })).filter((a) => a.leaks.length > 0);
    expect(leaked).toEqual([]);
  });

  it('leave no marker in any Redis key or value under the run prefix', async () => {
    const keyspace = await redisKeyspace(ctx.deps.redis, ctx.config.redis.prefix);
    expect(keyspace.size).toBeGreaterThan(0);
    // The values were really read: the provisioning job records name the operations.
    expect([...keyspace.values()].some((v) => v.includes(operationIds[0]!))).toBe(true);
    for (const [key, value] of keyspace) expect(leaksIn(`${key}\n${value}`), key).toEqual([]);
  });

  it('leave no secret marker in a plaintext dump of the database', async () => {
    const { stdout: dump } = await promisify(execFile)('pg_dump', ['--no-owner', '--dbname', databaseUrl(ctx.dbName)], { maxBuffer: 512 * 1024 * 1024 });
    // The dump holds the run's rows: its credentials by id and name, and the resource.
    for (const known of [...Object.values(ids), 'sandbox', resourceId]) expect(dump).toContain(known);
    expect(leaksIn(dump, USER_DATA)).toEqual([]);
  }, 60_000);

  it('leave no terraform work directory, nor any marker in a file left in the temp dir', () => {
    // Each operation had its own work directory, in the folder this file points the worker at.
    expect(workdirsSeen.size).toBeGreaterThanOrEqual(operationIds.length);
    expect(existsSync(workerDir)).toBe(true);
    expect(readdirSync(workerDir)).toEqual([]);
    for (const [path, bytes] of filesUnder(testTmp)) expect(leaksIn(bytes), path).toEqual([]);
  });
});
