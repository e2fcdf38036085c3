/**
 * Issue 8, classes 1 and 2: the queues and /metrics are the installation's; an account sees and acts on its own jobs
 * only. Attacked from outside: two accounts (A, B) and an installation key (made with the real CLI), over HTTP,
 * through the queue dashboard's own API (bull-board's routes under /admin/queues/api), with jobs made by the real
 * producers and run by the real worker (in this process, against the emulator). Provisioning is not consumed here, so
 * each account's creates stay waiting; A's AWS credential holds a key the emulator refuses, so its backfill cost
 * collection fails for good on its first attempt; every credential's job schedulers keep delayed runs.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/modules/audit/entity.ts';
import { QUEUE_NAMES, type QueueName } from '../../src/queue/catalog.ts';
import type { Runtime } from '../../src/runtime.ts';
import { startWorkers } from '../../workers/index.ts';
import { startEmulator } from '../emulator/emulator.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';
import { REDIS_URL, databaseUrl } from '../support/env.ts';
import { cliJson } from '../support/process.ts';

const HOST = 'skyloft.test';
const ORIGIN = `http://${HOST}`;
const OUTSIDER = '203.0.113.9';
const METRICS_TOKEN = `metrics-${randomBytes(16).toString('hex')}`;
const STATES = ['active', 'waiting', 'waiting-children', 'prioritized', 'completed', 'failed', 'delayed'] as const;

interface Tenant {
  accountId: string;
  userId: string;
  admin: string;
  viewer: string;
  credentialId: string;
  sandboxId: string;
  resourceIds: string[];
  operationIds: string[];
  adminCookie: string;
  viewerCookie: string;
}

let ctx: TestContext;
let emu: Awaited<ReturnType<typeof startEmulator>>;
let stopWorkers: () => Promise<void>;
let a: Tenant;
let b: Tenant;
let installation: { id: string; key: string };
let installationCookie: string;
let nextIp = 0;

const api = (key: string, method: string, url: string, payload?: object) =>
  ctx.app.inject({ method: method as 'GET', url, headers: bearer(key), ...(payload && { payload }) });

async function ok(key: string, method: string, url: string, payload?: object, status = 200) {
  const res = await api(key, method, url, payload);
  expect(res.statusCode, `${method} ${url}: ${res.body}`).toBe(status);
  return res.json();
}

/** A call to the dashboard with a session cookie, from this host's own pages (Origin set on changes). */
const board = (cookie: string, method: string, url: string, payload?: object) =>
  ctx.app.inject({
    method: method as 'GET',
    url: `/admin/queues/api${url}`,
    headers: { host: HOST, cookie, ...(method !== 'GET' && { origin: ORIGIN }) },
    remoteAddress: '198.51.100.200',
    ...(payload && { payload }),
  });

async function signIn(key: string): Promise<string> {
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/sign-in',
    headers: { host: HOST, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
    remoteAddress: `198.51.100.${(nextIp = (nextIp % 150) + 1)}`,
    payload: `apiKey=${encodeURIComponent(key)}`,
  });
  expect(res.statusCode, res.body).toBe(303);
  expect(res.headers.location).toBe('/admin/queues/');
  const header = res.headers['set-cookie'];
  return (Array.isArray(header) ? header[0]! : header!).split(';')[0]!;
}

async function until(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface SeenJob { queue: QueueName; id: string; name: string; state: string; data: string }

/** The truth, read from Redis: every job of every queue whose payload names `accountId`, with its state. */
async function jobsOf(accountId: string): Promise<SeenJob[]> {
  const out: SeenJob[] = [];
  for (const queue of QUEUE_NAMES) {
    const q = ctx.deps.queues.get(queue);
    for (const state of STATES) {
      for (const job of await q.getJobs([state], 0, -1)) {
        if (job?.data?.accountId === accountId) out.push({ queue, id: job.id!, name: job.name, state, data: JSON.stringify(job.data) });
      }
    }
  }
  return out.sort((x, y) => `${x.queue}${x.id}`.localeCompare(`${y.queue}${y.id}`));
}

/** Everything that names a tenant: its account, user, credential, resources, operations, and its jobs' ids. */
async function markersOf(t: Tenant): Promise<string[]> {
  return [t.accountId, t.userId, t.credentialId, t.sandboxId, ...t.resourceIds, ...t.operationIds, ...(await jobsOf(t.accountId)).map((j) => j.id)];
}

async function tenant(name: string, secret: { accessKeyId: string; secretAccessKey: string }): Promise<Tenant> {
  const boot = await ctx.bootstrap(`${name}-${randomBytes(3).toString('hex')}@example.com`);
  const viewer = (await ok(boot.apiKey, 'POST', '/v1/users', { email: `${name}-viewer-${randomBytes(3).toString('hex')}@example.com`, role: 'viewer' }, 201)).apiKey.key;
  const credentialId = (await ok(boot.apiKey, 'POST', '/v1/credentials', { name: `${name}-aws`, provider: 'aws', region: 'us-east-1', endpoints: { api: emu.urls.aws }, secret }, 201)).id;
  const sandboxId = (await ok(boot.apiKey, 'POST', '/v1/credentials', { name: `${name}-sandbox`, provider: 'sandbox', secret: {} }, 201)).id;
  const resourceIds: string[] = [];
  const operationIds: string[] = [];
  for (let i = 0; i < 2; i++) {
    const made = await ok(boot.apiKey, 'POST', '/v1/resources', { name: `${name}-${i}`, provider: 'sandbox', type: 'storage', region: 'local', credentialId: sandboxId, spec: {} }, 202);
    resourceIds.push(made.resource.id);
    operationIds.push(made.operation.id);
  }
  return { accountId: boot.accountId, userId: boot.userId, admin: boot.apiKey, viewer, credentialId, sandboxId, resourceIds, operationIds, adminCookie: await signIn(boot.apiKey), viewerCookie: await signIn(viewer) };
}

beforeAll(async () => {
  ctx = await createTestContext({ SKYLOFT_WORKER_QUEUES: 'inventory,health,cost', SKYLOFT_METRICS_TOKEN: METRICS_TOKEN, SKYLOFT_RATE_LIMIT: '1000000' });
  emu = await startEmulator({ seed: 8, aws: { regions: ['us-east-1'], counts: { instances: 3, volumes: 1, vpcs: 1, subnets: 1, securityGroups: 1, buckets: 1 } } });
  const rt: Runtime = { ...ctx.deps, ring: ctx.ring, close: async () => {} };
  stopWorkers = await startWorkers(rt);
  a = await tenant('alpha', { accessKeyId: 'AKIAREFUSEDBYEMULATOR', secretAccessKey: 'not-a-key-the-emulator-knows' });
  b = await tenant('bravo', { accessKeyId: emu.credentials.aws.accessKeyId, secretAccessKey: emu.credentials.aws.secretAccessKey });
  // The real worker ran each account's health check and backfill collection: A's failed, B's succeeded. A asks for
  // one more collection, which fails too: two failed jobs, one for A's admin to retry and one for the installation.
  await until(async () => (await jobsOf(a.accountId)).some((j) => j.queue === 'cost' && j.state === 'failed'), "A's failed collection");
  await ok(a.admin, 'POST', '/v1/costs/collect', { credentialId: a.credentialId }, 202);
  await until(async () => (await jobsOf(a.accountId)).filter((j) => j.queue === 'cost' && j.state === 'failed').length === 2, "A's second failed collection");
  await until(async () => (await jobsOf(b.accountId)).some((j) => j.queue === 'cost' && j.state === 'completed'), "B's collection");
  await until(async () => (await jobsOf(b.accountId)).some((j) => j.queue === 'health' && j.state === 'completed'), "B's health check");
  const env = { DATABASE_URL: databaseUrl(ctx.dbName), REDIS_URL, SKYLOFT_MASTER_KEY: ctx.config.masterKey! };
  const made = await cliJson(['installation-key', 'create', '--name', 'ops'], env);
  expect(made.exit.code, made.exit.stderr).toBe(0);
  installation = made.json;
  installationCookie = await signIn(installation.key);
}, 120_000);

afterAll(async () => {
  await stopWorkers?.();
  await emu?.close();
  await ctx?.close();
});

describe('the installation key', () => {
  it('is made by the CLI: {id, key} with skyi_ and 36 base62 characters, stored only as a hash and a prefix', async () => {
    expect(Object.keys(installation).sort()).toEqual(['id', 'key']);
    expect(installation.key).toMatch(/^skyi_[A-Za-z0-9]{36}$/);
    const rows = await ctx.orm.em.getConnection().execute<{ key_hash: string; prefix: string }[]>('select key_hash, prefix from installation_keys where id = ?', [installation.id]);
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(installation.key);
    expect(installation.key.startsWith(rows[0]!.prefix)).toBe(true);
  });

  it('reads or changes no account data: 403 on /v1, by bearer, Basic and its session alike; a bad one is 401', async () => {
    for (const url of ['/v1/me', '/v1/queues', `/v1/credentials/${a.credentialId}`, '/v1/audit-events']) {
      const res = await api(installation.key, 'GET', url);
      expect(res.statusCode, `${url}: ${res.body}`).toBe(403);
      expect(res.json()).toMatchObject({ error: { code: 'forbidden' } });
      expect(res.body).not.toContain(a.accountId);
    }
    const basic = await ctx.app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Basic ${Buffer.from(`x:${installation.key}`).toString('base64')}` } });
    expect(basic.statusCode).toBe(403);
    const posted = await api(installation.key, 'POST', '/v1/credentials', { name: 'x', provider: 'sandbox', secret: {} });
    expect(posted.statusCode).toBe(403);
    const viaSession = await ctx.app.inject({ method: 'GET', url: '/v1/me', headers: { cookie: installationCookie } });
    expect(viaSession.statusCode).toBe(403);
    for (const bad of [`skyi_${'x'.repeat(36)}`, `${installation.key}x`, 'skyi_']) {
      expect((await api(bad, 'GET', '/v1/me')).statusCode, bad).toBe(401);
    }
  });

  it("sees every account's jobs and ids in the dashboard", async () => {
    const aMarkers = await markersOf(a);
    const bMarkers = await markersOf(b);
    await until(async () => {
      const seen = (await Promise.all(QUEUE_NAMES.map((q) => board(installationCookie, 'GET', `/queues?activeQueue=${q}&status=latest&page=1&jobsPerPage=1000`)))).map((r) => r.body).join('');
      return [a.accountId, b.accountId, a.credentialId, b.credentialId].every((m) => seen.includes(m));
    }, "both accounts' jobs on the installation's board");
    expect(aMarkers.length).toBeGreaterThan(3);
    expect(bMarkers.length).toBeGreaterThan(3);
    const schedulers = await board(installationCookie, 'GET', '/job-schedulers');
    expect(schedulers.body).toContain(`health_${a.credentialId}`);
    expect(schedulers.body).toContain(`health_${b.credentialId}`);
  });

  it('reads /metrics from any address', async () => {
    const res = await ctx.app.inject({ method: 'GET', url: '/metrics', headers: bearer(installation.key), remoteAddress: OUTSIDER });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toContain('skyloft_queue_jobs');
    const viaSession = await ctx.app.inject({ method: 'GET', url: '/metrics', headers: { cookie: installationCookie }, remoteAddress: OUTSIDER });
    expect(viaSession.statusCode).toBe(200);
  });
});

describe("account B's admin session against account A's jobs", () => {
  const before: { jobs?: SeenJob[] } = {};
  beforeAll(async () => {
    before.jobs = await jobsOf(a.accountId);
    // What A has for B to attack: a failed collection, waiting creates, completed and delayed jobs, schedulers.
    const states = new Set(before.jobs.map((j) => j.state));
    for (const state of ['failed', 'waiting', 'completed', 'delayed']) expect(states, JSON.stringify(before.jobs)).toContain(state);
  });

  it("sees none of A's jobs, schedulers or ids, and its own counts exactly", async () => {
    const aMarkers = await markersOf(a);
    const mine = await jobsOf(b.accountId);
    await until(async () => {
      const res = await board(b.adminCookie, 'GET', '/queues?activeQueue=health&status=latest&page=1&jobsPerPage=1000');
      const queues = res.json().queues as { name: string; counts: Record<string, number> }[];
      return QUEUE_NAMES.every((q) => STATES.every((s) => (queues.find((x) => x.name === q)!.counts[s] ?? 0) === mine.filter((j) => j.queue === q && j.state === s).length));
    }, "B's counts on its board");
    const bodies: string[] = [];
    for (const queue of QUEUE_NAMES) {
      for (const status of ['latest', ...STATES]) {
        const res = await board(b.adminCookie, 'GET', `/queues?activeQueue=${queue}&status=${status}&page=1&jobsPerPage=1000`);
        expect(res.statusCode, res.body).toBe(200);
        bodies.push(res.body);
      }
    }
    bodies.push((await board(b.adminCookie, 'GET', '/job-schedulers')).body);
    const all = bodies.join('\n');
    expect(aMarkers.filter((m) => all.includes(m))).toEqual([]);
    // Not vacuous: B's own jobs and schedulers are there.
    expect(all).toContain(b.credentialId);
    expect(all).toContain(`health_${b.credentialId}`);
    expect(all).toContain(b.operationIds[0]);
  });

  it("answers every call on one of A's jobs as on a job that exists nowhere, and changes none", async () => {
    const problems: string[] = [];
    for (const job of before.jobs!) {
      const path = `/queues/${job.queue}/${encodeURIComponent(job.id)}`;
      const unknown = `/queues/${job.queue}/${randomUUID()}`;
      for (const [method, suffix, payload] of [
        ['GET', ''], ['GET', '/logs'], ['GET', '/flow'], ['PUT', '/retry'], ['PUT', '/clean'], ['PUT', '/promote'],
      ] as [string, string, object?][]) {
        const res = await board(b.adminCookie, method, `${path}${suffix}`, payload);
        const control = await board(b.adminCookie, method, `${unknown}${suffix}`, payload);
        // The same answer as for an id that exists nowhere (the 404 names the id the request itself sent).
        const same = (r: typeof res, id: string) => ({ status: r.statusCode, error: JSON.parse(r.body).error.message.replace(id, '<id>') });
        if (res.statusCode !== 404 || JSON.stringify(same(res, job.id)) !== JSON.stringify(same(control, unknown.split('/').at(-1)!))) {
          problems.push(`${method} ${path}${suffix}: ${res.statusCode} ${res.body} (unknown id: ${control.statusCode} ${control.body})`);
        }
        if (res.body.includes(a.accountId)) problems.push(`${method} ${path}${suffix} shows A's account: ${res.body}`);
      }
      for (const [method, suffix, payload] of [
        ['PATCH', '/update-data', { data: { accountId: b.accountId } }], ['PATCH', '/delay', { delay: 1 }], ['PATCH', '/priority', { priority: 1 }], ['PUT', '/remove-unprocessed-children'],
      ] as [string, string, object?][]) {
        const res = await board(b.adminCookie, method, `${path}${suffix}`, payload);
        if (res.statusCode !== 403) problems.push(`${method} ${path}${suffix}: ${res.statusCode} ${res.body}`);
      }
    }
    expect(problems).toEqual([]);
    expect(await jobsOf(a.accountId)).toEqual(before.jobs);
  });

  it("cannot pause, resume, empty, obliterate, limit or add to a queue, nor edit or run A's job schedulers", async () => {
    const problems: string[] = [];
    for (const queue of QUEUE_NAMES) {
      for (const [method, url, payload] of [
        ['PUT', `/queues/${queue}/pause`], ['PUT', `/queues/${queue}/resume`], ['PUT', `/queues/${queue}/empty`],
        ['PUT', `/queues/${queue}/obliterate`, { force: true }], ['PUT', `/queues/${queue}/concurrency`, { concurrency: 1 }],
        ['PUT', `/queues/${queue}/rate-limit`, { max: 1, duration: 60_000 }], ['PUT', `/queues/${queue}/rate-limit/release`],
        ['POST', `/queues/${queue}/add`, { name: 'health-check', data: { credentialId: a.credentialId, checkId: randomUUID(), accountId: a.accountId } }],
        ['GET', `/queues/${queue}/workers`], ['GET', `/queues/${queue}/metrics`],
      ] as [string, string, object?][]) {
        const res = await board(b.adminCookie, method, url, payload);
        if (res.statusCode !== 403) problems.push(`${method} ${url}: ${res.statusCode} ${res.body}`);
      }
    }
    for (const [method, url] of [['PUT', '/queues/pause'], ['PUT', '/queues/resume'], ['GET', '/redis/stats']] as const) {
      const res = await board(b.adminCookie, method, url);
      if (res.statusCode !== 403) problems.push(`${method} ${url}: ${res.statusCode} ${res.body}`);
    }
    for (const [queue, id] of [['inventory', `inventory_${a.credentialId}`], ['health', `health_${a.credentialId}`], ['cost', `cost_${a.credentialId}`]]) {
      const edit = await board(b.adminCookie, 'PATCH', `/queues/${queue}/job-schedulers/${id}`, { every: 1_000 });
      const remove = await board(b.adminCookie, 'PUT', `/queues/${queue}/job-schedulers/${id}/remove`);
      const run = await board(b.adminCookie, 'PUT', `/queues/${queue}/job-schedulers/${id}/run`);
      if (edit.statusCode !== 403 || remove.statusCode !== 403 || run.statusCode !== 404) problems.push(`${queue} ${id}: edit ${edit.statusCode}, remove ${remove.statusCode}, run ${run.statusCode} ${run.body}`);
    }
    expect(problems).toEqual([]);
    for (const queue of QUEUE_NAMES) expect(await ctx.deps.queues.get(queue).isPaused()).toBe(false);
    const { healthMinutes } = await ctx.deps.schedules.get(ctx.orm.em.fork(), a.accountId);
    expect((await ctx.deps.queues.get('health').getJobScheduler(`health_${a.credentialId}`))?.every).toBe(healthMinutes * 60_000);
    expect(await jobsOf(a.accountId)).toEqual(before.jobs);
  });

  it("retries, cleans and promotes all of B's own jobs in a state, never A's", async () => {
    const own = (await jobsOf(b.accountId)).filter((j) => j.queue === 'provisioning' && j.state === 'waiting');
    expect(own.length).toBe(2);
    await until(async () => (await board(b.adminCookie, 'GET', '/queues?activeQueue=provisioning&status=waiting&page=1&jobsPerPage=50')).json().queues.find((q: { name: string }) => q.name === 'provisioning').counts.waiting === 2, "B's waiting creates on its board");
    for (const [url, status] of [
      ['/queues/provisioning/clean/waiting', 200], ['/queues/provisioning/clean/wait', 200], ['/queues/cost/retry/failed', 200], ['/queues/cost/clean/failed', 200],
      ['/queues/health/retry/completed', 200], ['/queues/health/promote', 200], ['/queues/cost/promote', 200], ['/queues/inventory/promote', 200],
    ] as [string, number][]) {
      const res = await board(b.adminCookie, 'PUT', url);
      expect(res.statusCode, `${url}: ${res.body}`).toBe(status);
    }
    // B's own waiting creates are gone; all of A's jobs are as they were.
    expect((await jobsOf(b.accountId)).filter((j) => j.queue === 'provisioning' && j.state === 'waiting')).toEqual([]);
    expect(await jobsOf(a.accountId)).toEqual(before.jobs);
    // Every action is in B's own audit log.
    const rows = await ctx.orm.em.fork().find(AuditLog, { action: 'queue.action', actorUserId: b.userId });
    expect(rows.length).toBeGreaterThanOrEqual(8);
    expect(rows.every((r) => r.accountId === b.accountId)).toBe(true);
  });
});

describe('GET /v1/queues', () => {
  it("counts the caller's own account's jobs only", async () => {
    for (const t of [a, b]) {
      await until(async () => {
        const truth = await jobsOf(t.accountId);
        const res = await api(t.viewer, 'GET', '/v1/queues');
        expect(res.statusCode, res.body).toBe(200);
        const items = res.json().items as Record<string, number | string | boolean>[];
        return QUEUE_NAMES.every((q) => {
          const n = (state: string) => truth.filter((j) => j.queue === q && j.state === state).length;
          const item = items.find((i) => i.name === q)!;
          return item.waiting === n('waiting') + n('prioritized') && item.active === n('active') && item.delayed === n('delayed') && item.failed === n('failed') && item.completed === n('completed');
        });
      }, `the counts of ${t === a ? 'A' : 'B'}`);
    }
    const countsA = (await ok(a.viewer, 'GET', '/v1/queues')).items;
    expect(countsA.find((q: { name: string }) => q.name === 'cost').failed).toBe(2);
    expect(countsA.find((q: { name: string }) => q.name === 'provisioning').waiting).toBe(2);
    const countsB = (await ok(b.viewer, 'GET', '/v1/queues')).items;
    expect(countsB.find((q: { name: string }) => q.name === 'cost').failed).toBe(0);
  });
});

describe("account A's own sessions", () => {
  it("show a viewer A's jobs only, read-only, and refuse its actions", async () => {
    const bMarkers = await markersOf(b);
    const failed = (await jobsOf(a.accountId)).find((j) => j.queue === 'cost' && j.state === 'failed')!;
    let body = '';
    await until(async () => {
      const res = await board(a.viewerCookie, 'GET', '/queues?activeQueue=cost&status=failed&page=1&jobsPerPage=100');
      body = res.body;
      return res.statusCode === 200 && body.includes(failed.id);
    }, "A's failed collection on A's viewer's board");
    for (const q of JSON.parse(body).queues as { readOnlyMode: boolean }[]) expect(q.readOnlyMode).toBe(true);
    expect(JSON.parse(body).queues.find((q: { name: string }) => q.name === 'cost').jobs[0].data.accountId).toBe(a.accountId);
    expect(bMarkers.filter((m) => body.includes(m))).toEqual([]);
    const job = await board(a.viewerCookie, 'GET', `/queues/cost/${encodeURIComponent(failed.id)}`);
    expect(job.statusCode, job.body).toBe(200);
    for (const url of [`/queues/cost/${encodeURIComponent(failed.id)}/retry`, '/queues/cost/retry/failed', '/queues/cost/clean/failed']) {
      expect((await board(a.viewerCookie, 'PUT', url)).statusCode, url).toBe(403);
    }
    expect((await ctx.deps.queues.get('cost').getJob(failed.id))?.failedReason).toBeTruthy();
    expect(await (await ctx.deps.queues.get('cost').getJob(failed.id))?.getState()).toBe('failed');
  });

  it("let A's admin retry A's own failed job, audited in A's log", async () => {
    const failed = (await jobsOf(a.accountId)).find((j) => j.queue === 'cost' && j.state === 'failed')!;
    const res = await board(a.adminCookie, 'PUT', `/queues/cost/${encodeURIComponent(failed.id)}/retry`);
    expect(res.statusCode, res.body).toBe(204);
    const rows = await ctx.orm.em.fork().find(AuditLog, { requestId: String(res.headers['x-request-id']) });
    expect(rows).toEqual([expect.objectContaining({ accountId: a.accountId, actorUserId: a.userId, action: 'queue.action' })]);
    // The real worker runs it again (and finds its run already ended).
    await until(async () => (await (await ctx.deps.queues.get('cost').getJob(failed.id))?.getState()) === 'completed', 'the retried collection');
  });
});

describe('the installation key acts on every account', () => {
  it("retries A's failed job (audited in A's log as the installation) and pauses a queue (audited in no account's)", async () => {
    const failed = (await jobsOf(a.accountId)).find((j) => j.queue === 'cost' && j.state === 'failed')!;
    const retry = await board(installationCookie, 'PUT', `/queues/cost/${encodeURIComponent(failed.id)}/retry`);
    expect(retry.statusCode, retry.body).toBe(204);
    const rows = await ctx.orm.em.fork().find(AuditLog, { requestId: String(retry.headers['x-request-id']) });
    expect(rows).toEqual([expect.objectContaining({ accountId: a.accountId, actorKind: 'installation', actorInstallationKeyId: installation.id })]);
    const audit = await ok(a.admin, 'GET', '/v1/audit-events?action=queue.action&limit=500');
    expect(audit.items.some((e: { actor: { kind: string } }) => e.actor.kind === 'installation')).toBe(true);

    const pause = await board(installationCookie, 'PUT', '/queues/health/pause');
    expect(pause.statusCode, pause.body).toBe(200);
    expect(await ctx.deps.queues.get('health').isPaused()).toBe(true);
    expect((await board(installationCookie, 'PUT', '/queues/health/resume')).statusCode).toBe(200);
    expect(await ctx.deps.queues.get('health').isPaused()).toBe(false);
    const paused = await ctx.orm.em.fork().find(AuditLog, { requestId: String(pause.headers['x-request-id']) });
    expect(paused).toEqual([expect.objectContaining({ accountId: null, actorKind: 'installation', entityId: 'health' })]);
  });
});

describe('/metrics', () => {
  const scrape = (headers: Record<string, string>, remoteAddress = '127.0.0.1') => ctx.app.inject({ method: 'GET', url: '/metrics', headers, remoteAddress });

  it("refuses an account's key and session even from loopback (403), and a bad credential (401)", async () => {
    for (const key of [a.admin, b.admin, a.viewer]) {
      const res = await scrape(bearer(key));
      expect(res.statusCode, res.body).toBe(403);
      expect(res.body).not.toContain('skyloft_');
      expect((await scrape({ authorization: `Basic ${Buffer.from(`x:${key}`).toString('base64')}` })).statusCode).toBe(403);
    }
    expect((await scrape({ cookie: a.adminCookie })).statusCode).toBe(403);
    expect((await scrape(bearer(`sky_${'z'.repeat(36)}`))).statusCode).toBe(401);
    expect((await scrape(bearer(`skyi_${'z'.repeat(36)}`))).statusCode).toBe(401);
    expect((await scrape(bearer(`${METRICS_TOKEN}x`))).statusCode).toBe(401);
    expect((await scrape({}, OUTSIDER)).statusCode).toBe(403);
  });

  it('answers loopback without a credential, and SKYLOFT_METRICS_TOKEN from anywhere', async () => {
    expect((await scrape({})).statusCode).toBe(200);
    expect((await scrape(bearer(METRICS_TOKEN), OUTSIDER)).statusCode).toBe(200);
  });

  it("names no account's id in any label", async () => {
    const res = await scrape(bearer(METRICS_TOKEN));
    expect(res.statusCode).toBe(200);
    const ids = [...(await markersOf(a)), ...(await markersOf(b)), installation.id];
    expect(ids.filter((id) => res.body.includes(id))).toEqual([]);
    // The freshness gauge is per provider now; any uuid or account-shaped value in a label is a leak.
    const labels = [...res.body.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]!).join('\n');
    expect(labels).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/);
    expect(labels).not.toMatch(/credential_id|account_id/);
    expect(res.body).toMatch(/skyloft_inventory_sync_age_seconds\{provider="aws"\}/);
  });
});

describe('revoking the installation key', () => {
  it('ends its sessions at once, and its scrapes', async () => {
    const env = { DATABASE_URL: databaseUrl(ctx.dbName), REDIS_URL, SKYLOFT_MASTER_KEY: ctx.config.masterKey! };
    const list = await cliJson(['installation-key', 'list'], env);
    expect(list.json.items).toEqual([expect.objectContaining({ id: installation.id, name: 'ops', revokedAt: null })]);
    expect(JSON.stringify(list.json)).not.toContain(installation.key);
    const revoked = await cliJson(['installation-key', 'revoke', installation.id], env);
    expect(revoked.exit.code, revoked.exit.stderr).toBe(0);
    expect(revoked.json.revokedAt).toEqual(expect.any(String));
    expect((await board(installationCookie, 'GET', '/queues')).statusCode).toBe(401);
    expect((await ctx.app.inject({ method: 'GET', url: '/metrics', headers: bearer(installation.key), remoteAddress: OUTSIDER })).statusCode).toBe(401);
  });
});
