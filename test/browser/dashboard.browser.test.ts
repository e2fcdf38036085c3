import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker, type Job } from 'bullmq';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInstallationKey } from '../../src/modules/installation/keys.ts';
import { QUEUE_NAMES } from '../../src/queue/catalog.ts';
import { createRedis } from '../../src/queue/redis.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';

/**
 * The queue dashboard in a real headless Chromium (Debian's `chromium` package, run with the flags below;
 * see the README, "Test it"), against the real app listening on a port, on the machine's PostgreSQL and Redis.
 */
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

let ctx: TestContext;
let base: string;
let admin: { apiKey: string; accountId: string };
let viewer: { apiKey: string };
let other: { apiKey: string; accountId: string };
let installationKey: string;
const profiles: string[] = [];
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with \`apt-get install -y --no-install-recommends chromium\``);
  ctx = await createTestContext();
  admin = await ctx.bootstrap();
  const res = await ctx.app.inject({ method: 'POST', url: '/v1/users', headers: bearer(admin.apiKey), payload: { email: `viewer-${randomBytes(3).toString('hex')}@example.com`, role: 'viewer' } });
  viewer = { apiKey: res.json().apiKey.key };
  other = await ctx.bootstrap();
  installationKey = (await createInstallationKey(ctx.orm.em.fork(), 'browser')).key;
  await ctx.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(ctx.app.server.address() as { port: number }).port}`;
});
afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  for (const dir of profiles) rmSync(dir, { recursive: true, force: true });
  await ctx?.close();
});

/** What a page did that no page of Skyloft may do: a request to another origin, a CSP violation, a console error. */
const trouble = new WeakMap<Page, string[]>();

/**
 * A fresh browser with its own profile directory (--user-data-dir), as ENVIRONMENT.md asks, watched for requests to
 * other origins, Content-Security-Policy violations and console errors (see expectNoTrouble).
 */
async function browser(): Promise<Page> {
  const profile = mkdtempSync(join(tmpdir(), 'skyloft-chromium-'));
  profiles.push(profile);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), ...FLAGS],
  });
  contexts.push(context);
  const page = context.pages()[0] ?? (await context.newPage());
  const seen: string[] = [];
  trouble.set(page, seen);
  context.on('request', (request) => {
    const url = new URL(request.url());
    if (url.protocol !== 'data:' && url.origin !== base) seen.push(`request to another origin: ${request.url()}`);
  });
  // Injected by the browser itself, not by the page: a policy violation is reported even when nothing logs it.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`));
  });
  page.on('console', (message) => {
    if (message.type() === 'error') seen.push(`console error on ${page.url()}: ${message.text()}`);
  });
  page.on('pageerror', (err) => seen.push(`uncaught error on ${page.url()}: ${err.message}`));
  return page;
}

/** No request left this origin, no policy was violated, nothing was logged as an error. */
const expectNoTrouble = (page: Page) => expect(trouble.get(page)).toEqual([]);

/** One job of the health queue, of `accountId` (the admin's by default), that a real worker ran and failed (attempts: 1). */
async function failedJob(accountId = admin.accountId): Promise<Job> {
  const credentialId = randomUUID();
  await ctx.deps.queues.add('scheduled-health', { credentialId, accountId });
  const connection = createRedis(ctx.config.redis.url, { forWorker: true });
  return new Promise<Job>((resolve) => {
    const worker = new Worker('health', async () => {
      throw new Error('failed on purpose by dashboard.browser.test.ts');
    }, { connection, prefix: ctx.config.redis.prefix });
    worker.on('failed', (job) => {
      if (job?.data.credentialId === credentialId) void worker.close().then(() => connection.disconnect()).then(() => resolve(job));
    });
  });
}
const jobState = async (job: Job) => (await ctx.deps.queues.get('health').getJob(job.id!))?.getState();

async function signIn(page: Page, key: string): Promise<void> {
  await page.goto(`${base}/admin/queues`);
  expect(new URL(page.url()).pathname).toBe('/admin/sign-in');
  await page.fill('#apiKey', key);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/admin/queues/`);
  const [cookie] = await page.context().cookies();
  expect(cookie).toMatchObject({ name: 'skyloft_session', httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
}

async function expectEveryQueue(page: Page): Promise<void> {
  const sidebar = page.locator('#bull-board-sidebar');
  for (const name of QUEUE_NAMES) await expect.poll(() => sidebar.getByText(name, { exact: true }).count(), { timeout: 15_000 }).toBeGreaterThan(0);
}

async function signOut(page: Page): Promise<void> {
  // bull-board puts the uiConfig miscLinks ("Sign out") in its header menu: one click on it ends the session and
  // lands on the sign-in page (no confirmation page in between).
  await page.locator('header button[aria-haspopup=menu]').first().click();
  await page.getByText('Sign out', { exact: true }).first().click();
  await page.waitForURL(`${base}/admin/sign-in?signed-out`);
  await expect.poll(() => page.getByText('You are signed out.').count()).toBe(1);
  expect(await page.context().cookies()).toEqual([]);
  await page.goto(`${base}/admin/queues`);
  expect(new URL(page.url()).pathname).toBe('/admin/sign-in');
}

describe('every page Skyloft serves, in Chromium', () => {
  it('loads /, /docs, the sign-in page and the dashboard with no request to another origin, no CSP violation and no console error', async () => {
    const page = await browser();
    await page.goto(`${base}/`);
    await expect.poll(() => page.getByRole('link', { name: 'API documentation' }).count()).toBe(1);
    await page.getByRole('link', { name: 'API documentation' }).click();
    await expect.poll(() => page.locator('.swagger-ui .opblock').count(), { timeout: 15_000 }).toBeGreaterThan(10);
    await page.goto(`${base}/`);
    await page.getByRole('link', { name: 'Queue dashboard' }).click();
    await page.waitForURL(`${base}/admin/sign-in`);
    await page.fill('#apiKey', admin.apiKey);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/admin/queues/`);
    await expectEveryQueue(page);
    await page.goto(`${base}/admin/queues/queue/health`);
    await expect.poll(() => page.getByText('health', { exact: true }).count(), { timeout: 15_000 }).toBeGreaterThan(0);
    await signOut(page);
    expectNoTrouble(page);
  });

  it('reports what a page loading from another origin would do (the watch itself works)', async () => {
    const page = await browser();
    await page.goto(`${base}/`);
    // The policy refuses it, and the page's watchers see both the refusal and the attempt's console error.
    await page.evaluate(() => {
      const link = document.createElement('link');
      link.rel = 'stylesheet';
      link.href = 'https://fonts.googleapis.com/css2?family=IBM+Plex+Sans';
      document.head.append(link);
    });
    await expect.poll(() => trouble.get(page)!.some((t) => t.includes('CSP violation') && t.includes('fonts.googleapis.com'))).toBe(true);
    trouble.get(page)!.length = 0;
  });
});

describe('the queue dashboard in Chromium', () => {
  it('lets a wrong key back to the sign-in page with a message', async () => {
    const page = await browser();
    await page.goto(`${base}/admin/sign-in`);
    await page.fill('#apiKey', `sky_${'A'.repeat(36)}`);
    await page.click('button[type=submit]');
    await expect.poll(() => page.getByText('That key was not accepted').count()).toBe(1);
    expect(await page.context().cookies()).toEqual([]);
  });

  it("signs in the admin, who sees every queue, retries a failed job (it leaves the failed list) but never sees another account's, and signs out", async () => {
    const job = await failedJob();
    const others = await failedJob(other.accountId);
    const page = await browser();
    await signIn(page, admin.apiKey);
    await expectEveryQueue(page);

    await page.goto(`${base}/admin/queues/queue/health?status=failed`);
    const card = page.getByText(String(job.id), { exact: true });
    await expect.poll(() => card.count(), { timeout: 15_000 }).toBe(1);
    expect(await page.getByText(String(others.id), { exact: true }).count()).toBe(0);
    await page.getByRole('button', { name: 'Retry all' }).click();
    // bull-board asks for confirmation in a dialog.
    const dialog = page.getByRole('alertdialog').or(page.getByRole('dialog'));
    await dialog.getByRole('button', { name: /retry|confirm|yes|ok/i }).first().click();
    await expect.poll(() => jobState(job), { timeout: 15_000 }).not.toBe('failed');
    await expect.poll(() => card.count(), { timeout: 15_000 }).toBe(0);
    // "Retry all" was the account's own failed jobs, not the queue's.
    expect(await jobState(others)).toBe('failed');

    await signOut(page);
    expectNoTrouble(page);
  });

  it('signs in a viewer, who sees the queues and the failed job but no retry or clean button; a hand-made retry answers 403', async () => {
    const job = await failedJob();
    const page = await browser();
    await signIn(page, viewer.apiKey);
    await expectEveryQueue(page);

    await page.goto(`${base}/admin/queues/queue/health?status=failed`);
    await expect.poll(() => page.getByText(String(job.id), { exact: true }).count(), { timeout: 15_000 }).toBe(1);
    for (const name of [/retry/i, /clean/i, /promote/i, /pause/i, /empty/i, /obliterate/i]) {
      expect(await page.getByRole('button', { name }).count(), String(name)).toBe(0);
    }
    // From the page itself (same origin, the session cookie attached): the server refuses, whatever the UI shows.
    const status = await page.evaluate(async (url) => (await fetch(url, { method: 'PUT' })).status, `/admin/queues/api/queues/health/${encodeURIComponent(job.id!)}/retry`);
    expect(status).toBe(403);
    const clean = await page.evaluate(async () => (await fetch('/admin/queues/api/queues/health/clean/failed', { method: 'PUT' })).status);
    expect(clean).toBe(403);
    expect(await jobState(job)).toBe('failed');

    await signOut(page);
    // Only the two refused calls above were logged (as failed loads): nothing left this origin.
    expect(trouble.get(page)!.filter((t) => !t.includes('status of 403'))).toEqual([]);
  });

  it("signs in an installation key, which sees every account's failed jobs and may pause a queue", async () => {
    const mine = await failedJob();
    const others = await failedJob(other.accountId);
    const page = await browser();
    await signIn(page, installationKey);
    await expectEveryQueue(page);
    await page.goto(`${base}/admin/queues/queue/health?status=failed`);
    for (const job of [mine, others]) await expect.poll(() => page.getByText(String(job.id), { exact: true }).count(), { timeout: 15_000 }).toBe(1);
    const status = await page.evaluate(async () => (await fetch('/admin/queues/api/queues/health/pause', { method: 'PUT' })).status);
    expect(status).toBe(200);
    expect(await ctx.deps.queues.get('health').isPaused()).toBe(true);
    expect(await page.evaluate(async () => (await fetch('/admin/queues/api/queues/health/resume', { method: 'PUT' })).status)).toBe(200);
    await signOut(page);
    expectNoTrouble(page);
  });
});
