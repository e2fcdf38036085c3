import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_URL } from '../support/env.ts';
import { cliJson, freePort, killAll, npm, redisPrefix, waitForOk } from '../support/process.ts';

/**
 * Local mode: DATABASE_URL unset, an embedded PostgreSQL (run as the `postgres` OS user) under SKYLOFT_DATA_DIR.
 * The steps build on each other (first start, CLI beside the server, restart), so they share one data folder.
 */
// 0755 under /tmp: the postgres OS user must be able to traverse it.
const dataDir = mkdtempSync('/tmp/skyloft-e2e-local-');
chmodSync(dataDir, 0o755);
const redis = redisPrefix();
const env = {
  DATABASE_URL: undefined,
  SKYLOFT_MASTER_KEY: undefined,
  SKYLOFT_DATA_DIR: dataDir,
  REDIS_URL,
  SKYLOFT_REDIS_PREFIX: redis.prefix,
};

afterAll(async () => {
  await killAll();
  await redis.drop();
  // It holds files owned by the postgres user; as root, rm -rf removes them all.
  execFileSync('rm', ['-rf', dataDir]);
}, 60_000);

let apiKey = '';
let accountId = '';
let masterKeyText = '';

describe('local mode (DATABASE_URL unset)', () => {
  it('starts an embedded PostgreSQL, records it and a generated 0600 master key under the data dir, warns, and is ready', async () => {
    const port = await freePort();
    const server = npm(['start'], { ...env, PORT: String(port) });
    const ready = await waitForOk(server, `http://127.0.0.1:${port}/readyz`, 60_000);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });

    const recordPath = join(dataDir, 'postgres.json');
    expect(existsSync(recordPath), server.describe()).toBe(true);
    const record = JSON.parse(readFileSync(recordPath, 'utf8'));
    expect(record.port).toEqual(expect.any(Number));

    const keyPath = join(dataDir, 'master.key');
    expect(existsSync(keyPath)).toBe(true);
    expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    masterKeyText = readFileSync(keyPath, 'utf8').trim();
    expect(Buffer.from(masterKeyText, 'base64')).toHaveLength(32);

    // One warning about the generated key, naming its file.
    const warnings = server.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((l) => l.level === 40);
    const keyWarning = warnings.find((w) => /master key/i.test(w.msg));
    expect(keyWarning, server.describe()).toBeDefined();
    expect(JSON.stringify(keyWarning)).toContain(keyPath);
    // The key itself never reaches the log.
    expect(server.stderr).not.toContain(masterKeyText);

    // A CLI run beside the server reaches the same database: its key works on the server.
    const { exit, json } = await cliJson(['bootstrap', '--email', 'local@example.com'], env);
    expect(exit.code, exit.stderr).toBe(0);
    apiKey = json.apiKey;
    accountId = json.accountId;
    const me = await fetch(`http://127.0.0.1:${port}/v1/me`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(me.status).toBe(200);
    expect((await me.json()).account.id).toBe(accountId);
    // The CLI used the server's PostgreSQL instead of starting (and recording) its own.
    expect(JSON.parse(readFileSync(recordPath, 'utf8')).port).toBe(record.port);

    const stopped = await server.terminate();
    expect(stopped.code, server.describe()).toBe(0);
    expect(server.stderr).toContain('"msg":"stopped"');
  }, 120_000);

  it('keeps its data across a restart: the key bootstrapped before still works', async () => {
    expect(apiKey, 'the first step did not bootstrap').toMatch(/^sky_/);
    const port = await freePort();
    const server = npm(['start'], { ...env, PORT: String(port) });
    await waitForOk(server, `http://127.0.0.1:${port}/readyz`, 60_000);

    const me = await fetch(`http://127.0.0.1:${port}/v1/me`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(me.status, server.describe()).toBe(200);
    expect(await me.json()).toMatchObject({ account: { id: accountId }, user: { email: 'local@example.com' }, role: 'admin' });
    // The master key was generated once, not again.
    expect(readFileSync(join(dataDir, 'master.key'), 'utf8').trim()).toBe(masterKeyText);
    expect(server.stderr).not.toMatch(/generated a master key/);

    const stopped = await server.terminate();
    expect(stopped.code, server.describe()).toBe(0);
  }, 120_000);
});
