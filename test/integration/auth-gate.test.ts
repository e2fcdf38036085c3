import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../support/context.ts';

/**
 * The auth gate decides from the route the router matched, not from the raw URL. Every /v1 route of the OpenAPI
 * document is requested with no key under many spellings of its path, as raw bytes on a real socket (inject would
 * normalise some of them): none may reach a handler (2xx, 403, 422...) nor fail (5xx). 400, 401 and 404 only.
 */
let ctx: TestContext;
let port: number;
let routes: { method: string; path: string }[] = [];

beforeAll(async () => {
  ctx = await createTestContext({ LOG_LEVEL: 'warn' });
  await ctx.bootstrap();
  await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  port = (ctx.app.server.address() as { port: number }).port;
  const doc = (await ctx.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
  for (const [path, ops] of Object.entries(doc.paths)) {
    if (!path.startsWith('/v1')) continue;
    const concrete = path.replace(/\{[^}]+\}/g, '0190b0c4-0000-7000-8000-000000000000');
    for (const method of Object.keys(ops)) routes.push({ method: method.toUpperCase(), path: concrete });
  }
}, 60_000);
afterAll(() => ctx?.close());

/** Sends one request as raw bytes and returns the status code of the answer. */
function rawStatus(method: string, target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d) => {
      text += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (m) {
        socket.destroy();
        resolve(Number(m[1]));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`no answer to ${method} ${target}: ${text}`)));
    const body = ['POST', 'PUT', 'PATCH', 'LOCK', 'UNLOCK'].includes(method) ? '{}' : '';
    socket.write(
      `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}

/** Ways to spell one path that a router may map back to it. */
function spellings(path: string): string[] {
  const hex = (c: string) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  const encodedAt = (i: number, upper = false) => path.slice(0, i) + (upper ? hex(path[i]!).toUpperCase() : hex(path[i]!)) + path.slice(i + 1);
  const letters = [...path].map((c, i) => (/[a-z0-9]/i.test(c) ? i : -1)).filter((i) => i >= 0);
  return [
    path,
    encodedAt(2), // /%761/...
    encodedAt(1, true), // /%76...
    ...letters.slice(2, 6).map((i) => encodedAt(i)),
    path.replace(/[a-z]/gi, hex), // every letter encoded
    `http://127.0.0.1:${port}${path}`, // absolute form
    `http://evil.example${path}`,
    `HTTP://127.0.0.1${encodedAt(2)}`,
    `${path}/`,
    `/v1/.${path.slice(3)}`,
    `/x/..${path}`,
    `//${path.slice(1)}`,
    path.replace('/v1', '/V1'),
    path.replace('/v1', '/v1%2f').replace('%2f/', '%2f'),
    path.replace('/v1', '/%2576%2531'), // double-encoded
    `${path}%00`,
    `${path}?x=%zz`,
    `${path.slice(0, 3)}%`,
    `${path};x=1`,
  ];
}

describe('the auth gate', () => {
  it('finds the /v1 routes to attack', () => {
    expect(routes.length).toBeGreaterThanOrEqual(40);
    expect(routes).toContainEqual({ method: 'GET', path: '/v1/queues' });
  });

  it('lets no spelling of a /v1 path reach its handler without a key', { timeout: 120_000 }, async () => {
    const reached: string[] = [];
    for (const { method, path } of routes) {
      for (const target of spellings(path)) {
        const status = await rawStatus(method, target);
        if (![400, 401, 404].includes(status)) reached.push(`${method} ${target} -> ${status}`);
      }
    }
    expect(reached).toEqual([]);
  });

  it('still serves the public routes and refuses the same spellings of a keyed one', async () => {
    expect(await rawStatus('GET', '/healthz')).toBe(200);
    expect(await rawStatus('GET', '/%68ealthz')).toBe(200);
    expect(await rawStatus('GET', '/openapi.json')).toBe(200);
    expect(await rawStatus('GET', '/%761/queues')).toBe(401);
    expect(await rawStatus('GET', `http://127.0.0.1:${port}/v1/queues`)).toBe(401);
  });
});
