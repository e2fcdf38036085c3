import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { cliJson, email, freePort, freshDatabase, killAll, masterKey, npm, sleep, waitForOk } from '../support/process.ts';

// This test's own Redis (never the machine's): stopped and started again on the same port.
let redis: ChildProcess | undefined;
async function startRedis(port: number): Promise<void> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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

afterAll(async () => {
  await killAll();
  await stopRedis();
});

describe('Redis down while requests are accepted', () => {
  it('answers 202 to every create, and every accepted operation succeeds once Redis is back', async () => {
    const redisPort = await freePort();
    await startRedis(redisPort);
    const db = await freshDatabase();
    const env = { DATABASE_URL: db.url, REDIS_URL: `redis://127.0.0.1:${redisPort}`, SKYLOFT_MASTER_KEY: masterKey() };
    const start = async (roles: string) => {
      const port = await freePort();
      const proc = npm(['start'], { ...env, SKYLOFT_ROLES: roles, PORT: String(port), SKYLOFT_WORKER_CONCURRENCY: '5' });
      await waitForOk(proc, `http://127.0.0.1:${port}/readyz`, 60_000);
      return { proc, port };
    };
    const [api] = await Promise.all([start('api,scheduler'), start('worker')]);
    const { json: boot } = await cliJson(['bootstrap', '--email', email()], env);
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`http://127.0.0.1:${api.port}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${boot.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      return { status: res.status, text: await res.text() };
    };
    const cred = await post('/v1/credentials', { name: 'sandbox', provider: 'sandbox', secret: {} });
    expect(cred.status, cred.text).toBe(201);
    const credentialId = JSON.parse(cred.text).id;

    await stopRedis();
    const accepted: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await post('/v1/resources', { name: `outage-${i}`, provider: 'sandbox', type: 'vm', region: 'local', credentialId, spec: {} });
      expect(res.status, `create ${i} while Redis is down: ${res.text}\n${api.proc.describe()}`).toBe(202);
      accepted.push(JSON.parse(res.text).operation.id);
    }
    await startRedis(redisPort);

    // Nothing is restarted: each operation is enqueued either by the api's own enqueue, which gave up answering
    // after its timeout but completes once Redis is back, or else by the worker's reconciler (every minute, for
    // operations a minute old: at most ~2 minutes after they were accepted).
    const statuses = async () =>
      Promise.all(accepted.map(async (id) => {
        const res = await fetch(`http://127.0.0.1:${api.port}/v1/operations/${id}`, { headers: { authorization: `Bearer ${boot.apiKey}` } });
        return res.status === 200 ? ((await res.json()) as { status: string }).status : `HTTP ${res.status}`;
      }));
    let now: string[] = [];
    for (let deadline = Date.now() + 150_000; Date.now() < deadline; await sleep(2_000)) {
      now = await statuses();
      if (now.every((s) => ['succeeded', 'failed', 'canceled'].includes(s))) break;
    }
    expect(now).toEqual(accepted.map(() => 'succeeded'));
  }, 300_000);
});
