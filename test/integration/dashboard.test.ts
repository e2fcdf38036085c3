import { randomBytes, randomUUID } from 'node:crypto';
import { Worker, type Job } from 'bullmq';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initOrm } from '../../src/db/orm.ts';
import { buildApp } from '../../src/http/app.ts';
import { entities } from '../../src/modules/entities.ts';
import { AuditLog } from '../../src/modules/audit/entity.ts';
import { DashboardSession } from '../../src/modules/dashboard/entity.ts';
import { SIGN_IN_ATTEMPTS_PER_MINUTE } from '../../src/modules/dashboard/throttle.ts';
import { QUEUE_NAMES, Queues } from '../../src/queue/catalog.ts';
import { createRedis } from '../../src/queue/redis.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { freePort } from '../../src/shared/net.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';

const HOST = 'skyloft.test';
const ORIGIN = `http://${HOST}`;
const AWS_SECRET = `dashboard-secret-${randomBytes(8).toString('hex')}`;

let ctx: TestContext;
let admin: { accountId: string; userId: string; apiKey: string };
let viewer: { id: string; apiKey: string };

beforeAll(async () => {
  ctx = await createTestContext();
  admin = await ctx.bootstrap();
  const res = await ctx.app.inject({ method: 'POST', url: '/v1/users', headers: bearer(admin.apiKey), payload: { email: `viewer-${randomBytes(3).toString('hex')}@example.com`, role: 'viewer' } });
  expect(res.statusCode, res.body).toBe(201);
  viewer = { id: res.json().id, apiKey: res.json().apiKey.key };
});
afterAll(() => ctx.close());

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH';
let nextIp = 0;
function call(method: Method, url: string, opts: { cookie?: string; origin?: string | null; payload?: string | object; ip?: string } = {}) {
  const headers: Record<string, string> = { host: HOST };
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.origin !== null && method !== 'GET') headers.origin = opts.origin ?? ORIGIN;
  if (typeof opts.payload === 'string') headers['content-type'] = 'application/x-www-form-urlencoded';
  // A new address per request unless one is given, so sign-ins across this file stay under the per-IP limit.
  return ctx.app.inject({ method, url, headers, remoteAddress: opts.ip ?? `192.0.2.${(nextIp = (nextIp % 250) + 1)}`, ...(opts.payload !== undefined && { payload: opts.payload }) });
}

const setCookie = (res: LightMyRequestResponse): string => {
  const header = res.headers['set-cookie'];
  return (Array.isArray(header) ? header : [header ?? '']).join('\n');
};
/** Signs in through the form and answers the `name=value` to send back. */
async function signIn(key: string, ip?: string): Promise<string> {
  const res = await call('POST', '/admin/sign-in', { payload: `apiKey=${encodeURIComponent(key)}`, ...(ip && { ip }) });
  expect(res.statusCode, res.body).toBe(303);
  return setCookie(res).split(';')[0]!;
}
const sessionRow = async (cookie: string) => {
  const token = cookie.split('=')[1]!;
  const { createHash } = await import('node:crypto');
  return ctx.orm.em.fork().findOne(DashboardSession, { tokenHash: createHash('sha256').update(token).digest('hex') });
};

async function until(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** One job of `queue` that a real worker ran and failed (attempts: 1), as the dashboard will show it. */
async function failedJob(): Promise<Job> {
  const credentialId = randomUUID();
  await ctx.deps.queues.add('scheduled-health', { credentialId, accountId: admin.accountId });
  const connection = createRedis(ctx.config.redis.url, { forWorker: true });
  const failed = new Promise<Job>((resolve) => {
    const worker = new Worker('health', async () => {
      throw new Error('failed on purpose by dashboard.test.ts');
    }, { connection, prefix: ctx.config.redis.prefix, autorun: true });
    worker.on('failed', (job) => {
      if (job?.data.credentialId === credentialId) void worker.close().then(() => connection.disconnect()).then(() => resolve(job));
    });
  });
  return failed;
}

describe('signing in to /admin/queues', () => {
  it('sends a browser without a session to the sign-in page, and answers the API 401', async () => {
    const page = await call('GET', '/admin/queues');
    expect(page.statusCode).toBe(302);
    expect(page.headers.location).toBe('/admin/sign-in');
    const api = await call('GET', '/admin/queues/api/queues');
    expect(api.statusCode).toBe(401);
    expect(api.json()).toMatchObject({ error: { code: 'unauthorized' }, requestId: expect.any(String) });
    const form = await call('GET', '/admin/sign-in');
    expect(form.statusCode).toBe(200);
    expect(form.headers['content-type']).toContain('text/html');
    expect(form.body).toContain('<form method="post" action="/admin/sign-in">');
    expect(form.body).toContain('name="apiKey"');
  });

  it('refuses a wrong key with the sign-in page again, 401 and a clear message, and sets no cookie', async () => {
    for (const key of [`sky_${'x'.repeat(36)}`, `skyi_${'x'.repeat(36)}`, 'not-a-key', '']) {
      const res = await call('POST', '/admin/sign-in', { payload: `apiKey=${key}` });
      expect(res.statusCode).toBe(401);
      expect(res.body).toContain('That key was not accepted');
      expect(res.body).toContain('<form');
      expect(res.headers['set-cookie']).toBeUndefined();
    }
  });

  it('refuses a sign-in posted from another site (Origin check beside SameSite)', async () => {
    const other = await call('POST', '/admin/sign-in', { payload: `apiKey=${admin.apiKey}`, origin: 'https://evil.example' });
    expect(other.statusCode).toBe(403);
    const none = await call('POST', '/admin/sign-in', { payload: `apiKey=${admin.apiKey}`, origin: null });
    expect(none.statusCode).toBe(403);
    expect(other.headers['set-cookie']).toBeUndefined();
  });

  it('signs in with a good key: a Secure, HttpOnly, SameSite=Strict cookie on / that lasts the session TTL', async () => {
    const before = Date.now();
    const res = await call('POST', '/admin/sign-in', { payload: `apiKey=${admin.apiKey}` });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/admin/queues/');
    const cookie = setCookie(res);
    expect(cookie).toMatch(/^skyloft_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('Secure');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).toContain('Path=/;');
    const expires = Date.parse(/Expires=([^;]+)/.exec(cookie)![1]!);
    expect(Math.abs(expires - (before + 8 * 3_600_000))).toBeLessThan(5_000);
    expect(cookie).not.toContain(admin.apiKey);

    // Stored server-side: a hash of the token, the user, the key it came from, the role, and the expiry; no key.
    const row = await sessionRow(cookie.split(';')[0]!);
    expect(row).toMatchObject({ userId: admin.userId, accountId: admin.accountId, role: 'admin' });
    expect(Math.abs(row!.expiresAt.getTime() - expires)).toBeLessThan(1_000);
    expect(JSON.stringify(row)).not.toContain(cookie.split(';')[0]!.split('=')[1]);
    expect(JSON.stringify(row)).not.toContain(admin.apiKey);
  });

  it('serves the dashboard page and its static assets under /admin/queues once signed in', async () => {
    const cookie = await signIn(admin.apiKey);
    const page = await call('GET', '/admin/queues', { cookie });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Skyloft queues');
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]*static\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      const url = asset.startsWith('/') ? asset : `/admin/queues/${asset}`;
      expect(url.startsWith('/admin/queues/static/'), url).toBe(true);
      const res = await call('GET', url, { cookie });
      expect(res.statusCode, url).toBe(200);
    }
    // Deep links of the single-page app load the same page.
    expect((await call('GET', '/admin/queues/queue/health', { cookie })).statusCode).toBe(200);
  });

  it('locks the viewer out after ten sign-in attempts a minute from one address (429 with Retry-After)', async () => {
    const ip = '198.51.100.77';
    for (let i = 0; i < SIGN_IN_ATTEMPTS_PER_MINUTE; i++) {
      expect((await call('POST', '/admin/sign-in', { payload: 'apiKey=wrong', ip })).statusCode).toBe(401);
    }
    const limited = await call('POST', '/admin/sign-in', { payload: `apiKey=${viewer.apiKey}`, ip });
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.headers['set-cookie']).toBeUndefined();
    // Another address is not affected.
    await signIn(viewer.apiKey, '198.51.100.78');
  });
});

describe('sessions end', () => {
  it('ends at its expiry: the next request goes to sign-in and the cookie is cleared', async () => {
    const cookie = await signIn(admin.apiKey);
    expect((await call('GET', '/admin/queues', { cookie })).statusCode).toBe(200);
    const row = await sessionRow(cookie);
    await ctx.orm.em.fork().nativeUpdate(DashboardSession, { id: row!.id }, { expiresAt: new Date(Date.now() - 1_000), createdAt: new Date(Date.now() - 60_000) });
    const res = await call('GET', '/admin/queues', { cookie });
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe('/admin/sign-in');
    expect(setCookie(res)).toMatch(/skyloft_session=;.*Expires=Thu, 01 Jan 1970/);
  });

  it('ends on sign-out: the row is deleted, the cookie cleared, and the old cookie no longer works', async () => {
    const cookie = await signIn(admin.apiKey);
    expect(await sessionRow(cookie)).not.toBeNull();
    const confirm = await call('GET', '/admin/sign-out', { cookie });
    expect(confirm.body).toContain('<form method="post" action="/admin/sign-out">');
    const out = await call('POST', '/admin/sign-out', { cookie });
    expect(out.statusCode).toBe(303);
    expect(out.headers.location).toBe('/admin/sign-in?signed-out');
    expect(setCookie(out)).toMatch(/skyloft_session=;/);
    expect(await sessionRow(cookie)).toBeNull();
    expect((await call('GET', '/admin/queues', { cookie })).statusCode).toBe(302);
    expect((await call('GET', '/admin/sign-in?signed-out')).body).toContain('You are signed out.');
  });

  it('ends at once when "Sign out" is followed from a page of this site (a GET); elsewhere the GET only asks to confirm', async () => {
    const navigate = (site: string, extra: Record<string, string> = {}) => ({ 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', 'sec-fetch-site': site, ...extra });
    const getSignOut = (cookie: string, headers: Record<string, string>) =>
      ctx.app.inject({ method: 'GET', url: '/admin/sign-out', headers: { host: HOST, cookie, ...headers } });

    // A link of another site, a prefetch, a fetch from a page, or a browser without fetch metadata: the confirmation.
    const cookie = await signIn(admin.apiKey);
    for (const headers of [navigate('cross-site'), navigate('same-site'), navigate('same-origin', { 'sec-purpose': 'prefetch' }), { ...navigate('same-origin'), 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' }, {}]) {
      const confirm = await getSignOut(cookie, headers);
      expect(confirm.statusCode, JSON.stringify(headers)).toBe(200);
      expect(confirm.body).toContain('<form method="post" action="/admin/sign-out">');
      expect(await sessionRow(cookie), JSON.stringify(headers)).not.toBeNull();
    }

    // bull-board's "Sign out" link, clicked (or the address typed): one request ends it and lands on the sign-in page.
    for (const site of ['same-origin', 'none']) {
      const session = await signIn(admin.apiKey);
      const out = await getSignOut(session, navigate(site));
      expect(out.statusCode).toBe(303);
      expect(out.headers.location).toBe('/admin/sign-in?signed-out');
      expect(setCookie(out)).toMatch(/skyloft_session=;/);
      expect(await sessionRow(session)).toBeNull();
      expect((await call('GET', '/admin/queues', { cookie: session })).statusCode).toBe(302);
    }
  });

  it('ends when the API key it was made from is revoked', async () => {
    const created = await ctx.app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(admin.apiKey), payload: { name: 'dashboard-revoke' } });
    const cookie = await signIn(created.json().key);
    expect((await call('GET', '/admin/queues/api/queues', { cookie })).statusCode).toBe(200);
    const revoked = await ctx.app.inject({ method: 'DELETE', url: `/v1/api-keys/${created.json().id}`, headers: bearer(admin.apiKey) });
    expect(revoked.statusCode).toBe(200);
    expect((await call('GET', '/admin/queues/api/queues', { cookie })).statusCode).toBe(401);
    expect((await call('GET', '/admin/queues', { cookie })).statusCode).toBe(302);
    expect(await sessionRow(cookie)).toBeNull();
  });

  it('ends when its user is deactivated', async () => {
    const made = await ctx.app.inject({ method: 'POST', url: '/v1/users', headers: bearer(admin.apiKey), payload: { email: `gone-${randomBytes(3).toString('hex')}@example.com`, role: 'operator' } });
    const cookie = await signIn(made.json().apiKey.key);
    expect((await call('GET', '/admin/queues', { cookie })).statusCode).toBe(200);
    await ctx.app.inject({ method: 'PATCH', url: `/v1/users/${made.json().id}`, headers: bearer(admin.apiKey), payload: { active: false } });
    expect((await call('GET', '/admin/queues', { cookie })).statusCode).toBe(302);
  });
});

describe('the session on /v1 (POST /sign-in, POST /sign-out)', () => {
  const v1 = (method: Method | 'DELETE', url: string, cookie: string, origin?: string | null, payload?: object) =>
    ctx.app.inject({ method, url, headers: { host: HOST, cookie, ...(origin !== null && { origin: origin ?? ORIGIN }) }, ...(payload && { payload }) });

  it("acts as its key's user: reads freely, changes only with an Origin naming this host, and ends at once on sign-out", async () => {
    const res = await call('POST', '/sign-in', { payload: `apiKey=${encodeURIComponent(admin.apiKey)}` });
    expect(res.statusCode, res.body).toBe(303);
    expect(res.headers.location).toBe('/admin/queues/');
    const cookie = setCookie(res).split(';')[0]!;
    const me = await v1('GET', '/v1/me', cookie, null);
    expect(me.statusCode, me.body).toBe(200);
    expect(me.json()).toMatchObject({ user: { id: admin.userId }, role: 'admin' });

    const body = { name: `session-${randomBytes(3).toString('hex')}` };
    for (const origin of [null, 'https://evil.example', 'null']) {
      const refused = await v1('POST', '/v1/api-keys', cookie, origin, body);
      expect(refused.statusCode, `${origin}: ${refused.body}`).toBe(403);
    }
    const made = await v1('POST', '/v1/api-keys', cookie, undefined, body);
    expect(made.statusCode, made.body).toBe(201);
    expect((await v1('DELETE', `/v1/api-keys/${made.json().id}`, cookie)).statusCode).toBe(200);

    // A bearer key, when given, is what counts: a bad one is 401 whatever the cookie.
    const both = await ctx.app.inject({ method: 'GET', url: '/v1/me', headers: { cookie, authorization: `Bearer sky_${'q'.repeat(36)}` } });
    expect(both.statusCode).toBe(401);

    const out = await call('POST', '/sign-out', { cookie });
    expect(out.statusCode).toBe(303);
    expect((await v1('GET', '/v1/me', cookie, null)).statusCode).toBe(401);
  });

  it("clears the cookie of a session made before sessions covered /v1 (skyloft_dashboard on /admin)", async () => {
    const res = await call('POST', '/admin/sign-in', { payload: `apiKey=${encodeURIComponent(admin.apiKey)}`, cookie: `skyloft_dashboard=${'a'.repeat(43)}` });
    expect(res.statusCode).toBe(303);
    expect(setCookie(res)).toMatch(/skyloft_dashboard=;.*Path=\/admin/);
  });
});

describe('what each role may do', () => {
  let adminCookie: string;
  let viewerCookie: string;
  beforeAll(async () => {
    adminCookie = await signIn(admin.apiKey);
    viewerCookie = await signIn(viewer.apiKey);
  });

  const state = async (job: Job) => (await ctx.deps.queues.get('health').getJob(job.id!))?.getState();

  it('shows every Skyloft queue to both; read-only (no retries) to the viewer only', async () => {
    for (const [cookie, readOnly] of [[adminCookie, false], [viewerCookie, true]] as const) {
      const res = await call('GET', '/admin/queues/api/queues', { cookie });
      expect(res.statusCode, res.body).toBe(200);
      const queues = res.json().queues as { name: string; readOnlyMode: boolean; allowRetries: boolean }[];
      expect(queues.map((q) => q.name).sort()).toEqual([...QUEUE_NAMES].sort());
      for (const q of queues) expect(q).toMatchObject({ readOnlyMode: readOnly, allowRetries: !readOnly });
    }
  });

  it("refuses the viewer's retry, clean and pause with 403, and the failed job stays failed", async () => {
    const job = await failedJob();
    expect(await state(job)).toBe('failed');
    for (const url of [`/admin/queues/api/queues/health/${job.id}/retry`, `/admin/queues/api/queues/health/${job.id}/clean`, '/admin/queues/api/queues/health/clean/failed', '/admin/queues/api/queues/health/retry/failed', '/admin/queues/api/queues/health/pause']) {
      const res = await call('PUT', url, { cookie: viewerCookie });
      expect(res.statusCode, `${url}: ${res.body}`).toBe(403);
      expect(res.json()).toMatchObject({ error: { code: 'forbidden' } });
    }
    expect(await state(job)).toBe('failed');
    expect(await ctx.deps.queues.get('health').isPaused()).toBe(false);
  });

  it("retries a failed job for the admin, and writes an audit row; a cross-site retry is refused", async () => {
    const job = await failedJob();
    const url = `/admin/queues/api/queues/health/${job.id}/retry`;
    const crossSite = await call('PUT', url, { cookie: adminCookie, origin: 'https://evil.example' });
    expect(crossSite.statusCode).toBe(403);
    expect(await state(job)).toBe('failed');

    const res = await call('PUT', url, { cookie: adminCookie });
    expect(res.statusCode, res.body).toBe(204);
    expect(await state(job)).toBe('waiting');
    const rows = await ctx.orm.em.fork().find(AuditLog, { requestId: String(res.headers['x-request-id']) });
    expect(rows).toEqual([expect.objectContaining({ action: 'queue.action', entityType: 'queue', entityId: 'health', actorUserId: admin.userId })]);
  });

  it('shows job data with ids only: a credential secret never appears', async () => {
    const cred = await ctx.app.inject({ method: 'POST', url: '/v1/credentials', headers: bearer(admin.apiKey), payload: { name: 'dash', provider: 'aws', region: 'us-east-1', secret: { accessKeyId: 'AKIADASHBOARD', secretAccessKey: AWS_SECRET } } });
    expect(cred.statusCode, cred.body).toBe(201);
    // The account's job lists come from a shared pass up to TTL_MS old (src/queue/account-jobs.ts): ask until it shows.
    let res!: LightMyRequestResponse;
    await until(async () => {
      res = await call('GET', '/admin/queues/api/queues?activeQueue=health&status=latest&page=1&jobsPerPage=50', { cookie: viewerCookie });
      expect(res.statusCode, res.body).toBe(200);
      const health = (res.json().queues as { name: string; jobs: { data: unknown }[] }[]).find((q) => q.name === 'health')!;
      return JSON.stringify(health.jobs.map((j) => j.data)).includes(cred.json().id);
    }, 'the credential\'s health check in the board');
    expect(res.body).not.toContain(AWS_SECRET);
    expect(res.body).not.toContain('AKIADASHBOARD');
  });

  it('never logs an API key or a session token', () => {
    const logs = ctx.logs.join('');
    expect(logs).toContain('dashboard sign-in');
    for (const secret of [admin.apiKey, viewer.apiKey, adminCookie.split('=')[1]!, viewerCookie.split('=')[1]!, AWS_SECRET]) {
      expect(logs).not.toContain(secret);
    }
  });
});

describe('dependencies down', () => {
  it('answers 503 (not 500) when PostgreSQL does not answer', async () => {
    const deadOrm = await initOrm(`postgres://postgres@127.0.0.1:${await freePort()}/nothing`, entities, createLogger('silent'), 1);
    const app = await buildApp({ ...ctx.deps, orm: deadOrm, log: createLogger('silent') });
    try {
      const cookie = await signIn(admin.apiKey);
      for (const url of ['/admin/queues', '/admin/queues/api/queues']) {
        const res = await app.inject({ method: 'GET', url, headers: { host: HOST, cookie } });
        expect(res.statusCode, `${url}: ${res.body}`).toBe(503);
      }
      const signInRes = await app.inject({ method: 'POST', url: '/admin/sign-in', headers: { host: HOST, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' }, payload: `apiKey=${admin.apiKey}` });
      expect(signInRes.statusCode).toBe(503);
    } finally {
      await app.close();
      await deadOrm.close();
    }
  });

  it('answers the dashboard API 503 (not 500) when Redis does not answer', async () => {
    const deadRedis = createRedis(`redis://127.0.0.1:${await freePort()}`);
    const app = await buildApp({ ...ctx.deps, redis: deadRedis, queues: new Queues(deadRedis, ctx.config.redis.prefix), log: createLogger('silent') });
    try {
      const cookie = await signIn(admin.apiKey); // on the healthy app: sessions live in PostgreSQL
      const res = await app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { host: HOST, cookie } });
      expect(res.statusCode, res.body).toBe(503);
      expect(res.json()).toMatchObject({ error: { code: 'dependency_unavailable' } });
    } finally {
      await app.close();
      deadRedis.disconnect();
    }
  });
});
