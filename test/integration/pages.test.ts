import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';

/**
 * What a person meets in a browser: `/` is a page, every HTML answer carries a Content-Security-Policy that keeps it
 * to this origin, no page names another origin, and the OpenAPI document asks no key of the public routes.
 * test/browser/dashboard.browser.test.ts checks the same pages in a real Chromium.
 */
const HOST = 'skyloft.test';
let ctx: TestContext;
let cookie: string;

beforeAll(async () => {
  ctx = await createTestContext();
  const { apiKey } = await ctx.bootstrap();
  const res = await ctx.app.inject({
    method: 'POST', url: '/sign-in', payload: `apiKey=${apiKey}`,
    headers: { host: HOST, origin: `http://${HOST}`, 'content-type': 'application/x-www-form-urlencoded' },
  });
  expect(res.statusCode, res.body).toBe(303);
  cookie = String(res.headers['set-cookie']).split(';')[0]!;
  expect((await ctx.app.inject({ url: '/v1/me', headers: bearer(apiKey) })).statusCode).toBe(200);
});
afterAll(() => ctx.close());

const get = (url: string, withSession = false) => ctx.app.inject({ url, headers: { host: HOST, ...(withSession && { cookie }) } });

/** The policy's directives by name. */
function policy(res: LightMyRequestResponse): Map<string, string[]> {
  const header = res.headers['content-security-policy'];
  expect(header, `${res.raw.req.url}: no Content-Security-Policy`).toEqual(expect.any(String));
  return new Map(String(header).split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...values]) => [name!, values]));
}

describe('GET /', () => {
  it('answers a small HTML page pointing to the docs, the dashboard and the README, under a strict policy', async () => {
    const res = await get('/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    for (const text of ['href="/docs"', 'href="/admin/queues"', 'README.md']) expect(res.body).toContain(text);
    const csp = policy(res);
    expect(csp.get('default-src')).toEqual(["'none'"]);
    expect(csp.get('script-src')).toBeUndefined(); // no script at all
    expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
  });
});

describe('every HTML answer', () => {
  const PAGES: [string, boolean][] = [
    ['/', false], ['/docs', false], ['/docs/', false], ['/admin/sign-in', false], ['/sign-in', false], ['/admin/sign-out', false],
    ['/admin/queues/', true], ['/admin/queues/queue/health', true],
  ];

  it.each(PAGES)('%s carries a policy that allows this origin only, and names no other origin', async (url, withSession) => {
    let res = await get(url, withSession);
    if (res.statusCode === 302 && url === '/docs') res = await get(String(res.headers.location));
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    const csp = policy(res);
    expect(["'self'", "'none'"]).toContain(csp.get('default-src')?.join(' '));
    for (const [name, sources] of csp) {
      for (const source of sources) expect(source, `${url}: ${name} ${source}`).toMatch(/^('[a-z0-9-]+'|'sha256-[A-Za-z0-9+/=]+'|data:)$/);
    }
    // No stylesheet, script, image or font from elsewhere (bull-board's page linked fonts.googleapis.com).
    expect(res.body).not.toMatch(/\b(?:src|href)=["']?(?:[a-z][a-z0-9+.-]*:)?\/\//i);
  });

  it('comes with the default policy even from a plugin\'s static file that sets none (any text/html answer does)', async () => {
    const res = await get('/docs/static/oauth2-redirect.html');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(policy(res).get('default-src')).toEqual(["'self'"]);
  });
});

describe('the OpenAPI document', () => {
  it('asks no key of the public routes and inherits the key requirement everywhere under /v1', async () => {
    const doc = (await get('/openapi.json')).json() as { security: unknown[]; paths: Record<string, Record<string, { security?: unknown[] }>> };
    expect(doc.security).toEqual([{ bearer: [] }, { basic: [] }]);
    expect(doc.paths['/healthz']!.get!.security).toEqual([]);
    expect(doc.paths['/readyz']!.get!.security).toEqual([]);
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (path.startsWith('/v1/')) expect(op.security, `${method} ${path}`).toBeUndefined();
        else expect(op.security, `${method} ${path}`).toEqual([]);
      }
    }
  });
});
