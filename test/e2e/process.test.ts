import { afterEach, describe, expect, it } from 'vitest';
import { migrations } from '../../src/db/migrations/index.ts';
import { REDIS_URL } from '../support/env.ts';
import {
  cliJson,
  email,
  freePort,
  freshDatabase,
  killAll,
  masterKey,
  npm,
  portClosed,
  query,
  redisPrefix,
  runNpm,
  waitForOk,
} from '../support/process.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await killAll();
  for (const c of cleanups.splice(0)) await c();
});

/** A fresh database (cloned from the migrated template), a unique Redis prefix, a new master key and a free port. */
async function serverEnv() {
  const db = await freshDatabase();
  const redis = redisPrefix();
  cleanups.push(redis.drop);
  const port = await freePort();
  return {
    port,
    db,
    env: { DATABASE_URL: db.url, REDIS_URL, SKYLOFT_REDIS_PREFIX: redis.prefix, SKYLOFT_MASTER_KEY: masterKey(), PORT: String(port) },
  };
}

describe('npm start', () => {
  it('reaches /readyz 200 and /healthz 200, and SIGTERM to npm stops the server and exits with code 0 within a few seconds', async () => {
    const { port, env } = await serverEnv();
    const server = npm(['start'], env);
    const ready = await waitForOk(server, `http://127.0.0.1:${port}/readyz`, 45_000);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);

    // What `docker stop` or a process manager does: SIGTERM to the process it started, which is npm.
    server.child.kill('SIGTERM');
    const exit = await server.waitForExit(10_000);
    // npm's exit must mean the server stopped, not that it was orphaned and still answers.
    const leftover = await server.waitForGroupExit(5_000).then(() => [], () => server.members().map((m) => m.cmdline));
    expect({ code: exit.code, signal: exit.signal, leftover }, `SIGTERM to npm must stop Skyloft, then npm exits 0\n${server.describe()}`)
      .toEqual({ code: 0, signal: null, leftover: [] });
    expect(await portClosed(port)).toBe(true);
    expect(server.stderr).toContain('"msg":"stopped"');
  }, 90_000);

  it('shuts the Skyloft process down gracefully on SIGTERM: it closes the port and every process exits with code 0', async () => {
    const { port, env } = await serverEnv();
    const server = npm(['start'], env);
    await waitForOk(server, `http://127.0.0.1:${port}/readyz`, 45_000);

    const pid = server.serviceProcess();
    expect(pid, server.describe()).toBeTypeOf('number');
    const started = Date.now();
    process.kill(pid!, 'SIGTERM');
    const exit = await server.waitForExit(10_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(exit.code, server.describe()).toBe(0);
    await server.waitForGroupExit(5_000);
    expect(await portClosed(port)).toBe(true);
    expect(server.stderr).toMatch(/"signal":"SIGTERM".*"msg":"shutting down"/);
    expect(server.stderr).toContain('"msg":"stopped"');
  }, 90_000);

  it('writes readable lines with SKYLOFT_LOG_FORMAT=pretty (JSON by default into a pipe), redacted alike', async () => {
    const { port, env } = await serverEnv();
    const server = npm(['start'], { ...env, SKYLOFT_LOG_FORMAT: 'pretty' });
    await waitForOk(server, `http://127.0.0.1:${port}/readyz`, 45_000);
    const unauthorized = await fetch(`http://127.0.0.1:${port}/v1/me`, { headers: { authorization: 'Bearer sky_not-a-key-marker' } });
    expect(unauthorized.status).toBe(401);
    const exit = await server.terminate();
    expect(exit.code, server.describe()).toBe(0);
    expect(exit.stderr).toMatch(/^\S+ INFO  skyloft started roles=\["api","worker","scheduler"\]$/m);
    expect(exit.stderr).toMatch(/^\S+ INFO  stopped durationMs=\d+$/m);
    expect(exit.stderr).not.toContain('{"level"');
    expect(exit.stderr).not.toContain('sky_not-a-key-marker');
  }, 90_000);

  it('refuses PORT=abc, SKYLOFT_ROLES=foo and DATABASE_URL without SKYLOFT_MASTER_KEY with one message naming all three', async () => {
    const exit = await runNpm(['start'], {
      PORT: 'abc',
      SKYLOFT_ROLES: 'foo',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/never_contacted',
      REDIS_URL,
    }, 45_000);
    const out = `${exit.stdout}\n${exit.stderr}`;
    expect(exit.code, out).not.toBe(0);
    expect(exit.code, out).not.toBeNull();
    expect(out.match(/Invalid configuration/g), out).toHaveLength(1);
    for (const variable of ['PORT', 'SKYLOFT_ROLES', 'SKYLOFT_MASTER_KEY']) expect(out, `${variable} is not named`).toMatch(new RegExp(`\\b${variable}\\b`));
  }, 90_000);

  it('refuses DATABASE_URL without SKYLOFT_MASTER_KEY, naming SKYLOFT_MASTER_KEY and how to make one', async () => {
    const exit = await runNpm(['start'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/never_contacted', REDIS_URL, PORT: String(await freePort()) }, 45_000);
    const out = `${exit.stdout}\n${exit.stderr}`;
    expect(exit.code, out).not.toBe(0);
    expect(out).toMatch(/Invalid configuration[\s\S]*SKYLOFT_MASTER_KEY/);
    expect(out).toContain('openssl rand -base64 32');
    expect(out).not.toMatch(/migrations applied|skyloft started/);
  }, 90_000);

  it('refuses several malformed variables at once, naming every one of them in a single message', async () => {
    const exit = await runNpm(['start'], {
      PORT: '70000',
      REDIS_URL: 'http://127.0.0.1:6379',
      SKYLOFT_MASTER_KEY: 'not-a-key',
      SKYLOFT_RATE_LIMIT: '-5',
      SKYLOFT_DATA_DIR: '/tmp/never-used',
    }, 45_000);
    const out = `${exit.stdout}\n${exit.stderr}`;
    expect(exit.code, out).not.toBe(0);
    expect(out.match(/Invalid configuration/g), out).toHaveLength(1);
    for (const variable of ['PORT', 'REDIS_URL', 'SKYLOFT_MASTER_KEY', 'SKYLOFT_RATE_LIMIT']) expect(out, `${variable} is not named`).toMatch(new RegExp(`\\b${variable}\\b`));
  }, 90_000);

  it('exits non-zero when Redis is unreachable, naming the URL and how to start one', async () => {
    const { env } = await serverEnv();
    const closed = await freePort();
    const url = `redis://127.0.0.1:${closed}`;
    const exit = await runNpm(['start'], { ...env, REDIS_URL: url }, 60_000);
    const out = `${exit.stdout}\n${exit.stderr}`;
    expect(exit.code, out).not.toBe(0);
    expect(exit.code, out).not.toBeNull();
    expect(out).toContain(url);
    expect(out).toContain('docker compose up -d redis');
    expect(out).not.toContain('skyloft started');
  }, 90_000);
});

describe('npm run cli -- migrate', () => {
  it('succeeds twice when started at the same time on a fresh empty database, applying each migration once', async () => {
    const db = await freshDatabase({ empty: true });
    const env = { DATABASE_URL: db.url, REDIS_URL, SKYLOFT_MASTER_KEY: masterKey() };
    const [a, b] = await Promise.all([runNpm(['run', 'cli', '--', 'migrate'], env), runNpm(['run', 'cli', '--', 'migrate'], env)]);
    expect(a.code, `${a.stdout}\n${a.stderr}`).toBe(0);
    expect(b.code, `${b.stdout}\n${b.stderr}`).toBe(0);

    const rows = await query<{ name: string; n: string }>(db.url, 'select name, count(*) as n from skyloft_migrations group by name order by name');
    expect(rows.map((r) => r.name)).toEqual(migrations.map((m) => m.name).sort());
    expect(rows.every((r) => Number(r.n) === 1)).toBe(true);
    const tables = await query<{ tablename: string }>(db.url, "select tablename from pg_tables where schemaname = 'public'");
    expect(tables.map((t) => t.tablename)).toEqual(expect.arrayContaining(['accounts', 'users', 'api_keys', 'credentials', 'audit_logs']));

    // And a third run finds nothing to do.
    const c = await runNpm(['run', 'cli', '--', 'migrate'], env);
    expect(c.code, c.stderr).toBe(0);
    expect(await query(db.url, 'select * from skyloft_migrations')).toHaveLength(migrations.length);
  }, 90_000);
});

describe('npm run cli -- bootstrap --json', () => {
  it('prints exactly one JSON line, last on stdout, and two runs create two different accounts', async () => {
    const { env, db } = await serverEnv();
    const runs = await Promise.all([0, 1].map(() => runNpm(['run', '--silent', 'cli', '--', 'bootstrap', '--email', email(), '--json'], env)));
    const results = runs.map((run) => {
      expect(run.code, run.stderr).toBe(0);
      const lines = run.stdout.split('\n').filter((l) => l.trim() !== '');
      expect(lines, run.stdout).toHaveLength(1);
      expect(run.stdout.endsWith('\n')).toBe(true);
      const json = JSON.parse(lines.at(-1)!);
      expect(Object.keys(json).sort()).toEqual(expect.arrayContaining(['accountId', 'apiKey', 'userId']));
      expect(json.accountId).toMatch(/^[a-z2-7]{13}$/);
      expect(json.userId).toEqual(expect.any(String));
      expect(json.userId.length).toBeGreaterThan(0);
      expect(json.apiKey).toMatch(/^sky_[A-Za-z0-9]{36}$/);
      // Logs go to stderr, never stdout.
      expect(run.stdout).not.toContain('"level"');
      return json as { accountId: string; userId: string; apiKey: string };
    });
    expect(results[0]!.accountId).not.toBe(results[1]!.accountId);
    expect(results[0]!.userId).not.toBe(results[1]!.userId);
    expect(results[0]!.apiKey).not.toBe(results[1]!.apiKey);

    const accounts = await query<{ id: string }>(db.url, 'select id from accounts where id = any($1)', [results.map((r) => r.accountId)]);
    expect(accounts).toHaveLength(2);
    // Only a hash is stored, never the key itself.
    const keys = await query<{ n: string }>(db.url, 'select count(*) as n from api_keys where key_hash = any($1)', [results.map((r) => r.apiKey)]);
    expect(Number(keys[0]!.n)).toBe(0);
  }, 90_000);

  it('prints a key that a running server accepts on GET /v1/me', async () => {
    const { env, port } = await serverEnv();
    const server = npm(['start'], env);
    await waitForOk(server, `http://127.0.0.1:${port}/readyz`, 45_000);

    const { exit, json } = await cliJson(['bootstrap', '--email', 'Owner@Example.com'], env);
    expect(exit.code, exit.stderr).toBe(0);

    const me = await fetch(`http://127.0.0.1:${port}/v1/me`, { headers: { authorization: `Bearer ${json.apiKey}` } });
    expect(me.status).toBe(200);
    const body = await me.json();
    expect(body).toMatchObject({ role: 'admin', account: { id: json.accountId }, user: { id: json.userId, email: 'owner@example.com' } });

    // Basic auth with the key as password works too; a wrong key is 401.
    const basic = await fetch(`http://127.0.0.1:${port}/v1/me`, { headers: { authorization: `Basic ${Buffer.from(`x:${json.apiKey}`).toString('base64')}` } });
    expect(basic.status).toBe(200);
    const wrong = await fetch(`http://127.0.0.1:${port}/v1/me`, { headers: { authorization: `Bearer sky_${'A'.repeat(36)}` } });
    expect(wrong.status).toBe(401);
  }, 90_000);
});
