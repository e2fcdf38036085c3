import { randomBytes } from 'node:crypto';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/runtime.ts';
import { startWorkers } from '../../workers/index.ts';
import { startEmulator } from '../emulator/emulator.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';

/**
 * Known marker secrets fed through every path that could log them: credential create and rotate with valid and
 * invalid bodies, SDK calls that fail against the emulator once the keys are revoked, a sandbox resource whose spec
 * holds a marker, and a state backend POST whose state holds a sensitive output. The API and the worker (in-process,
 * same logger) log at debug; no marker may appear in any line.
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

type Emulator = Awaited<ReturnType<typeof startEmulator>>;
let ctx: TestContext;
let emu: Emulator;
let stopWorkers: () => Promise<void>;
let apiKey: string;
let previousCAs: string[];
const AWS_KEY_ID = 'AKIASKYLOFTLOGTEST01';
const AZURE_CLIENT = '7d0c5d9e-1111-4222-8333-944455556666';

beforeAll(async () => {
  ctx = await createTestContext(); // LOG_LEVEL=debug
  emu = await startEmulator({
    seed: 5,
    aws: { regions: ['us-east-1'], keys: [{ accessKeyId: AWS_KEY_ID, secretAccessKey: AWS_SECRET, accountId: '123456789012' }], counts: { instances: 3 } },
    azure: { locations: ['eastus'], clientId: AZURE_CLIENT, clientSecret: AZURE_SECRET },
    gcp: { zones: ['us-central1-a'] },
  });
  previousCAs = tls.getCACertificates('default');
  tls.setDefaultCACertificates([...previousCAs, emu.urls.caCert]);
  const rt: Runtime = { ...ctx.deps, ring: ctx.ring, close: async () => {} };
  stopWorkers = await startWorkers(rt);
  apiKey = (await ctx.bootstrap()).apiKey;
}, 60_000);

afterAll(async () => {
  await stopWorkers?.();
  if (previousCAs) tls.setDefaultCACertificates(previousCAs);
  await emu?.close();
  await ctx?.close();
});

function call(method: string, url: string, body?: unknown, headers: Record<string, string> = bearer(apiKey)) {
  return ctx.app.inject({ method: method as 'POST', url, headers, ...(body !== undefined && { payload: body as object }) });
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

describe('secrets fed through every path that logs', () => {
  const answers: string[] = [];

  it('never reach a log line, an error answer or a job record', async () => {
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
      // Not even JSON: JSON.parse's message quotes the text it failed on.
      gcpBroken: { name: 'gcp-broken', provider: 'gcp', secret: { projectId: 'p', serviceAccountJson: `{"private_key": "${GCP_KEY_BROKEN_JSON}" oops` } },
    };

    // Valid creates: each queues a health check at once; the AWS and Azure ones succeed.
    const ids: Record<string, string> = {};
    for (const [k, body] of Object.entries(bodies)) {
      const res = await call('POST', '/v1/credentials', body);
      answers.push(res.body);
      expect(res.statusCode, res.body).toBe(201);
      ids[k] = res.json().id;
    }
    expect((await checkHealth(ids.aws!)).status).toMatch(/healthy|degraded/);
    expect((await checkHealth(ids.azure!)).status).toMatch(/healthy|degraded/);
    const gcpChecks = [await checkHealth(ids.gcp!), await checkHealth(ids.gcpBroken!)];
    expect(gcpChecks.map((c) => c.status)).toEqual(['error', 'error']);
    answers.push(JSON.stringify(gcpChecks));
    expect((await syncAndWait(ids.aws!)).status).toMatch(/succeeded|partial|completed/);

    // Invalid bodies, each carrying a marker: validation answers must not echo it.
    const invalid: unknown[] = [
      { name: 'x', provider: 'aws', secret: { secretAccessKey: INVALID_SECRET } },
      { name: 'x', provider: 'aws', secret: { accessKeyId: 7, secretAccessKey: INVALID_SECRET } },
      { name: 'x', provider: 'aws', secret: { accessKeyId: 'AKIA', secretAccessKey: INVALID_SECRET, extra: INVALID_SECRET } },
      { name: 'x', provider: 'azure', secret: { clientSecret: INVALID_SECRET } },
      { name: 'x', provider: 'gcp', secret: { serviceAccountJson: INVALID_SECRET } },
      { name: 'x', provider: INVALID_SECRET, secret: { secretAccessKey: INVALID_SECRET } },
      { name: INVALID_SECRET.repeat(40), provider: 'sandbox', secret: { password: INVALID_SECRET } },
    ];
    for (const body of invalid) {
      const res = await call('POST', '/v1/credentials', body);
      answers.push(res.body);
      expect(res.statusCode, res.body).toBe(400);
    }
    const malformed = await ctx.app.inject({
      method: 'POST',
      url: '/v1/credentials',
      headers: { ...bearer(apiKey), 'content-type': 'application/json' },
      payload: `{"name":"x","provider":"aws","secret":{"secretAccessKey":"${INVALID_SECRET}"`,
    });
    answers.push(malformed.body);
    expect(malformed.statusCode).toBe(400);

    // Rotation, valid then invalid.
    const rotated = await call('PUT', `/v1/credentials/${ids.aws}/secret`, { secret: { accessKeyId: AWS_KEY_ID, secretAccessKey: AWS_SECRET_ROTATED } });
    answers.push(rotated.body);
    expect(rotated.statusCode, rotated.body).toBeLessThan(300);
    const badRotation = await call('PUT', `/v1/credentials/${ids.azure}/secret`, { secret: { clientSecret: INVALID_SECRET } });
    answers.push(badRotation.body);
    expect(badRotation.statusCode).toBe(400);

    // Revoked keys: the SDKs' own errors (which can hold request details) through health checks and a sync.
    expect(emu.revoke(AWS_KEY_ID)).toBe(true);
    expect(emu.revoke(AZURE_CLIENT)).toBe(true);
    const awsRevoked = await checkHealth(ids.aws!);
    const azureRevoked = await checkHealth(ids.azure!);
    expect(awsRevoked.status).toBe('error');
    expect(azureRevoked.status).toBe('error');
    answers.push(JSON.stringify([awsRevoked, azureRevoked]));
    expect((await syncAndWait(ids.aws!)).status).toBe('failed');

    // A sandbox resource whose spec holds a marker, through real terraform.
    const sandbox = (await call('POST', '/v1/credentials', { name: 'sandbox', provider: 'sandbox', secret: {} })).json().id;
    const created = await call('POST', '/v1/resources', { name: 'vm', provider: 'sandbox', type: 'vm', region: 'local', credentialId: sandbox, spec: { password: SPEC_SECRET, note: SPEC_SECRET } });
    expect(created.statusCode, created.body).toBe(202);
    const { resource, operation } = created.json();
    const op = await until('the sandbox apply', async () => {
      const o = (await call('GET', `/v1/operations/${operation.id}`)).json();
      return ['succeeded', 'failed', 'canceled'].includes(o.status) ? o : undefined;
    });
    expect(op.status, op.error).toBe('succeeded');

    // The state backend, as terraform calls it (HTTP Basic with the API key), with a sensitive output.
    const basic = { authorization: `Basic ${Buffer.from(`terraform:${apiKey}`).toString('base64')}` };
    const state = await call('GET', `/v1/terraform/state/${resource.id}`, undefined, basic);
    expect(state.statusCode).toBe(200);
    const current = state.json();
    const next = { ...current, serial: current.serial + 1, outputs: { ...current.outputs, db_password: { value: STATE_SECRET, type: 'string', sensitive: true } } };
    const posted = await ctx.app.inject({ method: 'POST', url: `/v1/terraform/state/${resource.id}`, headers: { ...basic, 'content-type': 'application/json' }, payload: JSON.stringify(next) });
    answers.push(posted.body);
    expect(posted.statusCode, posted.body).toBe(200);
    const badState = await ctx.app.inject({ method: 'POST', url: `/v1/terraform/state/${resource.id}`, headers: { ...basic, 'content-type': 'application/json' }, payload: `{"outputs":{"p":{"value":"${STATE_SECRET}"` });
    answers.push(badState.body);
    expect(badState.statusCode).toBeGreaterThanOrEqual(400);

    // Something was logged on every path: requests, jobs (health, sync, provisioning) and their failures.
    const lines = ctx.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.msg === 'request completed').length).toBeGreaterThan(20);
    const jobs = lines.filter((l) => l.msg === 'job finished');
    expect(new Set(jobs.map((l) => l.job))).toEqual(expect.objectContaining({ size: expect.any(Number) }));
    for (const job of ['health-check', 'inventory-plan', 'provision']) expect(jobs.some((l) => l.job === job), job).toBe(true);
    expect(jobs.some((l) => l.outcome === 'failed' || l.outcome === 'retrying')).toBe(true);

    const markers = { AWS_SECRET, AWS_SECRET_ROTATED, AZURE_SECRET, GCP_KEY, GCP_KEY_BROKEN_JSON, SPEC_SECRET, STATE_SECRET, INVALID_SECRET, apiKey };
    const logs = ctx.logs.join('');
    for (const [name, marker] of Object.entries(markers)) {
      expect(logs.includes(marker), `${name} in the logs:\n${ctx.logs.filter((l) => l.includes(marker)).join('')}`).toBe(false);
      if (name !== 'SPEC_SECRET') {
        // The spec is the user's own data: answers may show it; secrets never.
        const leaked = answers.filter((a) => a.includes(marker));
        expect(leaked, `${name} in an answer`).toEqual([]);
      }
    }
    // The worker's job records (Redis) hold ids only.
    const redisText = JSON.stringify(await Promise.all((await ctx.deps.redis.keys(`${ctx.config.redis.prefix}:*`)).map(async (k) => ((await ctx.deps.redis.type(k)) === 'hash' ? ctx.deps.redis.hgetall(k) : null))));
    for (const [name, marker] of Object.entries(markers)) if (name !== 'SPEC_SECRET') expect(redisText.includes(marker), `${name} in Redis`).toBe(false);
  }, 240_000);
});
