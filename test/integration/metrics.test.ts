import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkdir, runTerraform } from '../../src/clouds/terraform/index.ts';
import { buildApp } from '../../src/http/app.ts';
import { createInstallationKey } from '../../src/modules/installation/keys.ts';
import { QUEUE_NAMES, Queues } from '../../src/queue/catalog.ts';
import { queueCounts } from '../../src/queue/counts.ts';
import { createRedis } from '../../src/queue/redis.ts';
import type { Runtime } from '../../src/runtime.ts';
import { startWorkers } from '../../workers/index.ts';
import { startEmulator } from '../emulator/emulator.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';

/**
 * /metrics and GET /v1/queues on the real app, with the worker running in-process against the in-process emulator:
 * the HTTP, job, cloud, terraform, queue and freshness metrics are read back from the Prometheus text itself.
 */
type Emulator = Awaited<ReturnType<typeof startEmulator>>;
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

let ctx: TestContext;
let emu: Emulator;
let stopWorkers: () => Promise<void>;
let adminKey: string;
let accountId: string;
let viewerKey: string;
let installationKey: string;
const METRICS_TOKEN = `token-${crypto.randomUUID()}`;
let credentialId: string;
/** Not in the default allow-list (127.0.0.1, ::1); inject's default remote address is 127.0.0.1. */
const OUTSIDER = '203.0.113.9';

beforeAll(async () => {
  ctx = await createTestContext({ SKYLOFT_METRICS_TOKEN: METRICS_TOKEN });
  installationKey = (await createInstallationKey(ctx.orm.em.fork(), 'prometheus')).key;
  emu = await startEmulator({
    seed: 7,
    aws: { regions: ['us-east-1'], counts: { instances: 30, volumes: 5, vpcs: 1, subnets: 2, securityGroups: 2, buckets: 2 } },
  });
  const rt: Runtime = { ...ctx.deps, ring: ctx.ring, close: async () => {} };
  stopWorkers = await startWorkers(rt);
  ({ apiKey: adminKey, accountId } = await ctx.bootstrap());
  const viewer = await call('POST', '/v1/users', { email: `viewer-${Date.now()}@example.com`, role: 'viewer' });
  expect(viewer.statusCode, viewer.body).toBe(201);
  viewerKey = viewer.json().apiKey.key;
  const created = await call('POST', '/v1/credentials', {
    name: 'emulated-aws',
    provider: 'aws',
    region: 'us-east-1',
    endpoints: { api: emu.urls.aws },
    secret: { accessKeyId: emu.credentials.aws.accessKeyId, secretAccessKey: emu.credentials.aws.secretAccessKey },
  });
  expect(created.statusCode, created.body).toBe(201);
  credentialId = created.json().id;
  // Registering queues a health check (and a cost backfill): let them finish before faults are injected.
  await until(async () => (await scrape()).some((s) => s.name === 'skyloft_job_duration_seconds_count' && s.labels.job === 'health-check'), 'the first health check');
  await untilIdle();
}, 60_000);

afterAll(async () => {
  await stopWorkers?.();
  await emu?.close();
  await ctx?.close();
});

function call(method: string, url: string, body?: unknown, key = adminKey) {
  return ctx.app.inject({ method: method as 'POST', url, headers: bearer(key), ...(body !== undefined && { payload: body as object }) });
}

async function scrape(opts: { key?: string; remoteAddress?: string } = {}): Promise<Sample[]> {
  const res = await ctx.app.inject({ method: 'GET', url: '/metrics', ...(opts.key && { headers: bearer(opts.key) }), ...(opts.remoteAddress && { remoteAddress: opts.remoteAddress }) });
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(res.body);
}

/** The Prometheus text exposition format, as prom-client writes it: `name{a="x",b="y"} value` lines and # comments. */
function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of every sample of `name` whose labels include `match`. */
function total(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
}

async function until(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function untilIdle(): Promise<void> {
  let last = '';
  await until(async () => {
    // The installation's own counts, read now (GET /v1/queues answers from a pass up to 2 s old).
    const counts = await queueCounts(ctx.deps.queues, 2_000);
    last = JSON.stringify(counts);
    // Delayed jobs are the job schedulers' next runs (scheduled-sync and the like), minutes away.
    return counts.every((q) => q.waiting + q.active === 0);
  }, 'idle queues').catch((e: Error) => {
    throw new Error(`${e.message}: ${last}`);
  });
}

async function syncAndWait(): Promise<Record<string, unknown>> {
  const res = await call('POST', '/v1/inventory/sync', { credentialId });
  expect(res.statusCode, res.body).toBe(202);
  const [runId] = res.json().runIds as string[];
  let run: Record<string, unknown> = {};
  await until(async () => {
    run = (await call('GET', `/v1/inventory/runs/${runId}`)).json();
    return run.status !== 'running';
  }, `sync run ${runId}`);
  return run;
}

describe('GET /metrics access', () => {
  it('answers an installation key and SKYLOFT_METRICS_TOKEN from any address, and an allow-listed address without a key', async () => {
    expect(total(await scrape({ key: installationKey, remoteAddress: OUTSIDER }), 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(total(await scrape({ key: METRICS_TOKEN, remoteAddress: OUTSIDER }), 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect((await ctx.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' })).statusCode).toBe(200);
    expect((await ctx.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '::1' })).statusCode).toBe(200);
  });

  it("refuses an account's keys (even from loopback) and an unlisted address with 403, and a bad key with 401, in the error shape", async () => {
    for (const [key, remoteAddress] of [[viewerKey, OUTSIDER], [adminKey, OUTSIDER], [adminKey, '127.0.0.1']]) {
      const res = await ctx.app.inject({ method: 'GET', url: '/metrics', headers: bearer(key!), remoteAddress });
      expect(res.statusCode, `${remoteAddress}: ${res.body}`).toBe(403);
      expect(res.json()).toMatchObject({ error: { code: 'forbidden', message: expect.stringMatching(/installation/) }, requestId: expect.any(String) });
    }
    const anonymous = await ctx.app.inject({ method: 'GET', url: '/metrics', remoteAddress: OUTSIDER });
    expect(anonymous.statusCode).toBe(403);
    expect(anonymous.json().error.message).toMatch(/SKYLOFT_METRICS_ALLOW/);
    // A forwarded-for header does not make an outsider local: the app does not trust proxies.
    const forwarded = await ctx.app.inject({ method: 'GET', url: '/metrics', remoteAddress: OUTSIDER, headers: { 'x-forwarded-for': '127.0.0.1' } });
    expect(forwarded.statusCode).toBe(403);
    const bad = await ctx.app.inject({ method: 'GET', url: '/metrics', headers: bearer('sky_' + 'x'.repeat(36)) });
    expect(bad.statusCode).toBe(401);
    expect(bad.json().error.code).toBe('unauthorized');
  });
});

describe('the HTTP request histogram', () => {
  it('counts requests by method, route pattern and status, never the raw URL', async () => {
    const before = await scrape();
    const me = { method: 'GET', route: '/v1/me', status: '200' };
    for (let i = 0; i < 3; i++) expect((await call('GET', '/v1/me')).statusCode).toBe(200);
    expect((await call('GET', `/v1/credentials/${credentialId}`)).statusCode).toBe(200);
    expect((await call('GET', '/v1/credentials/00000000-0000-7000-8000-000000000000')).statusCode).toBe(404);
    expect((await ctx.app.inject({ method: 'GET', url: '/no/such/path' })).statusCode).toBe(404);
    const after = await scrape();
    const delta = (match: Record<string, string>) => total(after, 'skyloft_http_request_duration_seconds_count', match) - total(before, 'skyloft_http_request_duration_seconds_count', match);
    expect(delta(me)).toBe(3);
    expect(delta({ method: 'GET', route: '/v1/credentials/:id', status: '200' })).toBe(1);
    expect(delta({ method: 'GET', route: '/v1/credentials/:id', status: '404' })).toBe(1);
    expect(delta({ method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(total(after, 'skyloft_http_request_duration_seconds_bucket', { ...me, le: '+Inf' })).toBe(total(after, 'skyloft_http_request_duration_seconds_count', me));
    expect(total(after, 'skyloft_http_request_duration_seconds_sum', me)).toBeGreaterThan(0);
    const routes = new Set(after.filter((s) => s.name.startsWith('skyloft_http_')).map((s) => s.labels.route));
    expect([...routes].filter((r) => r?.includes(credentialId) || r?.includes('/no/such'))).toEqual([]);
  });
});

describe('cloud, job and freshness metrics from a sync under throttling', () => {
  it('counts every throttled answer, its retry and backoff, and the jobs of the run', async () => {
    const before = await scrape();
    const fault = emu.faults.add({ cloud: 'aws', kind: 'throttle', count: 3 });
    let run: Record<string, unknown>;
    try {
      run = await syncAndWait();
    } finally {
      emu.faults.clear(fault.id);
    }
    expect(run, JSON.stringify(run)).toMatchObject({ status: 'succeeded', errors: [] });
    expect(fault.injected).toBe(3);
    const after = await scrape();
    const delta = (name: string, match: Record<string, string>) => total(after, name, match) - total(before, name, match);

    expect(delta('skyloft_cloud_api_calls_total', { provider: 'aws', outcome: 'throttled' })).toBe(3);
    expect(delta('skyloft_cloud_api_retries_total', { provider: 'aws', reason: 'throttled' })).toBe(3);
    expect(delta('skyloft_cloud_api_backoff_seconds_total', { provider: 'aws', reason: 'throttled' })).toBeGreaterThan(0);
    expect(delta('skyloft_cloud_api_calls_total', { provider: 'aws', service: 'ec2', outcome: 'ok' })).toBeGreaterThan(0);
    expect(delta('skyloft_cloud_api_calls_total', { provider: 'aws', service: 's3', outcome: 'ok' })).toBeGreaterThan(0);
    // Every call the emulator answered was counted once, as ok or throttled.
    const emulated = Object.entries(emu.faults.allCalls()).filter(([k]) => /^aws:[^:]+$/.test(k)).reduce((n, [, v]) => n + v, 0);
    expect(total(after, 'skyloft_cloud_api_calls_total', { provider: 'aws' })).toBe(emulated);
    // The cloud labels are bounded: no credential id or account id anywhere in them.
    expect(after.filter((s) => s.name.startsWith('skyloft_cloud_') && JSON.stringify(s.labels).includes(credentialId))).toEqual([]);

    const jobs = (job: string, outcome = 'completed') => delta('skyloft_job_duration_seconds_count', { queue: 'inventory', job, outcome });
    expect(jobs('inventory-plan')).toBe(1);
    expect(jobs('inventory-finish')).toBe(1);
    expect(jobs('inventory-scope')).toBeGreaterThan(0);
    expect(total(after, 'skyloft_job_duration_seconds_count', { queue: 'health', job: 'health-check', outcome: 'completed' })).toBeGreaterThanOrEqual(1);

    // Per provider, the stalest credential's age: no credential id in a label (one aws credential here).
    const age = after.find((s) => s.name === 'skyloft_inventory_sync_age_seconds' && s.labels.provider === 'aws');
    expect(Object.keys(age!.labels)).toEqual(['provider']);
    expect(age!.value).toBeGreaterThanOrEqual(0);
    expect(age!.value).toBeLessThan(60);
  }, 60_000);

  it('counts server errors as errors and their transient retries with backoff', async () => {
    const before = await scrape();
    const fault = emu.faults.add({ cloud: 'aws', kind: 'server-error', count: 2 });
    let run: Record<string, unknown>;
    try {
      run = await syncAndWait();
    } finally {
      emu.faults.clear(fault.id);
    }
    expect(run, JSON.stringify(run)).toMatchObject({ status: 'succeeded', errors: [] });
    expect(fault.injected).toBe(2);
    const after = await scrape();
    const delta = (name: string, match: Record<string, string>) => total(after, name, match) - total(before, name, match);
    expect(delta('skyloft_cloud_api_calls_total', { provider: 'aws', outcome: 'error' })).toBe(2);
    expect(delta('skyloft_cloud_api_retries_total', { provider: 'aws', reason: 'transient' })).toBe(2);
    expect(delta('skyloft_cloud_api_backoff_seconds_total', { provider: 'aws', reason: 'transient' })).toBeGreaterThan(0);
    expect(delta('skyloft_cloud_api_retries_total', { provider: 'aws', reason: 'throttled' })).toBe(0);
  }, 60_000);

  it('counts a throttled health probe as throttled without a retry (probes report throttling, they do not wait it out)', async () => {
    const before = await scrape();
    const fault = emu.faults.add({ cloud: 'aws', kind: 'throttle', count: 1 });
    try {
      const res = await call('POST', '/v1/health/check', { credentialId });
      expect(res.statusCode, res.body).toBe(202);
      await until(async () => {
        const now = await scrape();
        return total(now, 'skyloft_job_duration_seconds_count', { job: 'health-check' }) > total(before, 'skyloft_job_duration_seconds_count', { job: 'health-check' });
      }, 'the health check');
    } finally {
      emu.faults.clear(fault.id);
    }
    const after = await scrape();
    const delta = (name: string, match: Record<string, string>) => total(after, name, match) - total(before, name, match);
    expect(fault.injected).toBe(1);
    expect(delta('skyloft_cloud_api_calls_total', { provider: 'aws', outcome: 'throttled' })).toBe(1);
    expect(delta('skyloft_cloud_api_retries_total', { provider: 'aws' })).toBe(0);
  }, 30_000);
});

describe('terraform step durations', () => {
  it('observes each terraform run by step and outcome', async () => {
    const wd = await createWorkdir();
    const { dir: workdir, uid } = wd;
    try {
      const settings = (bin: string) => ({ ...ctx.config.terraform, bin });
      const before = await scrape();
      await runTerraform(['init', '-no-color'], { terraform: settings('true'), workdir, uid, cwd: workdir });
      await expect(runTerraform(['plan', '-no-color'], { terraform: settings('false'), workdir, uid, cwd: workdir })).rejects.toThrow();
      const after = await scrape();
      const delta = (match: Record<string, string>) => total(after, 'skyloft_terraform_step_duration_seconds_count', match) - total(before, 'skyloft_terraform_step_duration_seconds_count', match);
      expect(delta({ step: 'init', outcome: 'ok' })).toBe(1);
      expect(delta({ step: 'plan', outcome: 'error' })).toBe(1);
      expect(delta({ step: 'plan', outcome: 'ok' })).toBe(0);
    } finally {
      await wd.dispose();
    }
  });
});

describe('GET /v1/queues and the queue gauges', () => {
  it("lists every queue with the account's own counts, counts its jobs added to a paused queue as waiting, and the gauges every account's", async () => {
    const queue = ctx.deps.queues.get('cost');
    await queue.pause();
    try {
      // The counts come from a pass up to 2 s old (src/queue/account-jobs.ts): ask until it shows the pause.
      let items: Record<string, unknown>[] = [];
      await until(async () => {
        const res = await call('GET', '/v1/queues', undefined, viewerKey);
        expect(res.statusCode, res.body).toBe(200);
        items = res.json().items;
        return items.find((q) => q.name === 'cost')?.paused === true;
      }, 'the paused cost queue');
      expect(items.map((q) => q.name).sort()).toEqual([...QUEUE_NAMES].sort());
      for (const q of items) expect(Object.keys(q).sort()).toEqual(['active', 'completed', 'delayed', 'failed', 'name', 'paused', 'waiting']);
      const cost0 = items.find((q) => q.name === 'cost')!;
      expect(items.find((q) => q.name === 'inventory')).toMatchObject({ paused: false, completed: expect.any(Number) });
      expect(items.find((q) => q.name === 'inventory')!.completed).toBeGreaterThan(0);

      // Three of this account's, two of another account's and one of the installation's (no account).
      for (let i = 0; i < 3; i++) await queue.add('cost-collect', { runId: crypto.randomUUID(), accountId }, { jobId: `metrics-test-${i}` });
      for (let i = 0; i < 2; i++) await queue.add('cost-collect', { runId: crypto.randomUUID(), accountId: 'anotheraccount' }, { jobId: `metrics-other-${i}` });
      await queue.add('cost-collect', { runId: crypto.randomUUID() }, { jobId: 'metrics-installation' });
      let cost: Record<string, unknown> = {};
      await until(async () => {
        cost = (await call('GET', '/v1/queues')).json().items.find((q: { name: string }) => q.name === 'cost');
        return cost.waiting === (cost0.waiting as number) + 3;
      }, "the account's three new jobs");
      expect(cost).toMatchObject({ paused: true, active: 0 });

      // The gauges are the installation's: every account's jobs and those of no account.
      const truth = (await queueCounts(ctx.deps.queues, 2_000)).find((q) => q.name === 'cost')!;
      expect(truth.waiting).toBe((cost.waiting as number) + 3);
      const samples = await scrape();
      expect(total(samples, 'skyloft_queue_jobs', { queue: 'cost', state: 'waiting' })).toBe(truth.waiting);
      expect(total(samples, 'skyloft_queue_paused', { queue: 'cost' })).toBe(1);
      expect(total(samples, 'skyloft_queue_paused', { queue: 'inventory' })).toBe(0);
      for (const name of QUEUE_NAMES) {
        expect(samples.filter((s) => s.name === 'skyloft_queue_jobs' && s.labels.queue === name).map((s) => s.labels.state).sort()).toEqual(['active', 'completed', 'delayed', 'failed', 'waiting']);
      }
      expect(total(samples, 'skyloft_metrics_source_up', { source: 'queues' })).toBe(1);
      expect(total(samples, 'skyloft_metrics_source_up', { source: 'inventory' })).toBe(1);
    } finally {
      await queue.drain();
      await queue.resume();
    }
  });

  it('answers 401 without a key', async () => {
    expect((await ctx.app.inject({ method: 'GET', url: '/v1/queues' })).statusCode).toBe(401);
  });
});

// Last: the app built here replaces the process's scrape-time sources until it closes.
describe('when Redis does not answer', () => {
  it('GET /v1/queues answers 503 and /metrics leaves the queue gauges out instead of hanging', async () => {
    const dead = createRedis('redis://127.0.0.1:1');
    const queues = new Queues(dead, ctx.config.redis.prefix);
    const app = await buildApp({ ...ctx.deps, redis: dead, queues });
    try {
      const started = Date.now();
      const res = await app.inject({ method: 'GET', url: '/v1/queues', headers: bearer(adminKey) });
      expect(res.statusCode, res.body).toBe(503);
      expect(res.json().error).toMatchObject({ code: 'dependency_unavailable', message: expect.stringMatching(/Redis/) });
      expect(Date.now() - started).toBeLessThan(3_000);

      const scrapeStarted = Date.now();
      const metrics = await app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.statusCode).toBe(200);
      expect(Date.now() - scrapeStarted).toBeLessThan(2_000);
      const samples = parsePrometheus(metrics.body);
      expect(samples.filter((s) => s.name === 'skyloft_queue_jobs' || s.name === 'skyloft_queue_paused')).toEqual([]);
      expect(total(samples, 'skyloft_metrics_source_up', { source: 'queues' })).toBe(0);
      expect(total(samples, 'skyloft_http_request_duration_seconds_count', { route: '/v1/queues', status: '503' })).toBe(1);
    } finally {
      await app.close();
      await queues.close().catch(() => {});
      dead.disconnect();
    }
  });
});
