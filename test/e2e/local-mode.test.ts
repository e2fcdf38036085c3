import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { QUEUE_NAMES } from '../../src/queue/catalog.ts';
import { REDIS_URL } from '../support/env.ts';
import { cliJson, freePort, killAll, npm, redisPrefix, sleep, waitForOk, type NpmProcess } from '../support/process.ts';

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
/** The Redis key prefix the installation in dataDir used (logged at start). */
let installationPrefix = '';

/** The local PostgreSQL's postmaster pid while it runs (postmaster.pid is removed when it stops cleanly). */
const postmasterFile = () => join(dataDir, 'pg', 'postmaster.pid');
const postmasterPid = () => Number(readFileSync(postmasterFile(), 'utf8').split('\n')[0]);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** Process group of a pid (field 5 of /proc/<pid>/stat, after the command's closing parenthesis). */
const groupOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
};
const logged = (proc: NpmProcess) => proc.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
const prefixOf = (proc: NpmProcess) => logged(proc).find((l) => l.redisPrefix)?.redisPrefix as string | undefined;

async function jobCounts(prefix: string): Promise<number> {
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  try {
    let total = 0;
    for (const name of QUEUE_NAMES) {
      const queue = new Queue(name, { connection, prefix });
      total += Object.values(await queue.getJobCounts()).reduce((a, b) => a + b, 0);
      await queue.close();
    }
    return total;
  } finally {
    connection.disconnect();
  }
}

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

    // The database runs in a session of its own (a terminal's Ctrl-C does not reach it), and stops with Skyloft.
    const postgres = postmasterPid();
    expect(groupOf(postgres)).not.toBe(server.pid);
    installationPrefix = prefixOf(server) ?? '';
    expect(installationPrefix).toMatch(new RegExp(`^${redis.prefix}:\\d+$`));

    const stopped = await server.terminate();
    expect(stopped.code, server.describe()).toBe(0);
    expect(server.stderr).toContain('"msg":"stopped"');
    expect(alive(postgres)).toBe(false);
    expect(existsSync(postmasterFile())).toBe(false);
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

  it('stops on Ctrl-C (SIGINT to the whole process group) during a running job as on SIGTERM: the job handed back, the database last, exit 0', async () => {
    expect(apiKey, 'the first step did not bootstrap').toMatch(/^sky_/);
    const port = await freePort();
    const server = npm(['start'], { ...env, PORT: String(port), SKYLOFT_SHUTDOWN_TIMEOUT: '10s' });
    await waitForOk(server, `http://127.0.0.1:${port}/readyz`, 60_000);
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        headers: { authorization: `Bearer ${apiKey}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    const cred = await (await call('POST', '/v1/credentials', { name: 'sandbox', provider: 'sandbox', secret: {} })).json();
    const { operation } = await (await call('POST', '/v1/resources', { name: 'slow', provider: 'sandbox', type: 'vm', region: 'local', credentialId: cred.id, spec: { provisionSeconds: 30 } })).json();
    for (let deadline = Date.now() + 60_000; ; await sleep(300)) {
      const op = await (await call('GET', `/v1/operations/${operation.id}`)).json();
      if (op.status === 'running' && (await (await call('GET', `/v1/operations/${operation.id}/log`)).text()).includes('Provisioning with')) break;
      expect(Date.now() < deadline, `the apply never started\n${server.describe()}`).toBe(true);
    }
    const postgres = postmasterPid();

    // What a terminal does on Ctrl-C: SIGINT to every process of the foreground group (npm, Skyloft, ...).
    process.kill(-server.pid, 'SIGINT');
    const signaled = Date.now();
    const exit = await server.waitForExit(15_000);
    expect(exit.code, server.describe()).toBe(0);
    expect(Date.now() - signaled).toBeLessThan(10_000);
    expect(exit.stderr).not.toContain('shutdown took longer');
    // One line for the one Ctrl-C, though it reaches Skyloft twice (from the terminal and forwarded by npm).
    const lines = logged(server);
    expect(lines.filter((l) => /shutting down/.test(l.msg)).map((l) => l.msg), server.describe()).toEqual(['shutting down']);
    // The job was stopped and handed back while the database still ran; the database stopped last.
    const at = (test: (l: Record<string, any>) => boolean) => lines.findIndex(test);
    const handedBack = at((l) => l.outcome === 'handed-back' && l.operationId === operation.id);
    const dbStopped = at((l) => l.msg === 'local PostgreSQL stopped');
    const stopped = at((l) => l.msg === 'stopped');
    const last = JSON.stringify(lines.slice(-6).map((l) => l.msg));
    expect(handedBack, server.describe()).toBeGreaterThanOrEqual(0);
    expect(dbStopped, last).toBeGreaterThan(handedBack);
    expect(stopped, last).toBeGreaterThan(dbStopped);
    expect(lines.filter((l) => l.level >= 50), server.describe()).toEqual([]);
    expect(alive(postgres)).toBe(false);
  }, 120_000);

  it('does not leave its PostgreSQL running when it is killed outright', async () => {
    const port = await freePort();
    const server = npm(['start'], { ...env, PORT: String(port) });
    await waitForOk(server, `http://127.0.0.1:${port}/readyz`, 60_000);
    const postgres = postmasterPid();
    process.kill(server.serviceProcess()!, 'SIGKILL');
    for (const deadline = Date.now() + 10_000; alive(postgres); await sleep(100)) {
      expect(Date.now() < deadline, 'the local PostgreSQL outlived the Skyloft that started it').toBe(true);
    }
    await server.kill();
  }, 120_000);

  it('starts a new installation after `rm -rf` of its data folder: empty queues, the old jobs left alone', async () => {
    expect(installationPrefix, 'the first step did not record its prefix').not.toBe('');
    const oldJobs = await jobCounts(installationPrefix);
    expect(oldJobs, 'the earlier steps queued jobs').toBeGreaterThan(0);
    execFileSync('rm', ['-rf', dataDir]);
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);

    const port = await freePort();
    const server = npm(['start'], { ...env, PORT: String(port) });
    await waitForOk(server, `http://127.0.0.1:${port}/readyz`, 60_000);
    const fresh = prefixOf(server);
    expect(fresh, server.describe()).toMatch(new RegExp(`^${redis.prefix}:\\d+$`));
    expect(fresh).not.toBe(installationPrefix);
    expect(await jobCounts(fresh!)).toBe(0);
    // The old installation's jobs are not this one's to run: still there, untouched.
    await sleep(1_000);
    expect(await jobCounts(installationPrefix)).toBe(oldJobs);
    expect(server.stderr).not.toMatch(/not found/i);
    const stopped = await server.terminate();
    expect(stopped.code, server.describe()).toBe(0);
  }, 120_000);
});
