import http from 'node:http';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { REDIS_URL } from '../support/env.ts';
import { apiCaller, cliJson, email, freshDatabase, killAll, masterKey, npm, portClosed, query, redisPrefix, sleep, startRoles, type NpmProcess } from '../support/process.ts';

/** Graceful shutdown of real `npm start` processes: SIGTERM to the Skyloft Node process, as an orchestrator sends it. */
const redis = redisPrefix();
const tmp = mkdtempSync(join(tmpdir(), 'skyloft-e2e-shutdown-'));
chmodSync(tmp, 0o711); // passable by the uid terraform runs as (src/clouds/terraform/uids.ts)

afterEach(() => killAll());
afterAll(async () => {
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
  await redis.drop();
});

const start = (env: Record<string, string>, roles: string) => startRoles(roles, { ...env, TMPDIR: tmp });

function sigterm(proc: NpmProcess): number {
  const pid = proc.serviceProcess();
  if (pid === undefined) throw new Error(`no Skyloft process\n${proc.describe()}`);
  process.kill(pid, 'SIGTERM');
  return Date.now();
}

describe('SIGTERM', () => {
  it('lets an in-flight request finish, refuses new connections, and exits 0 within the limit', async () => {
    const db = await freshDatabase();
    const env = { DATABASE_URL: db.url, REDIS_URL, SKYLOFT_REDIS_PREFIX: redis.prefix, SKYLOFT_MASTER_KEY: masterKey(), SKYLOFT_SHUTDOWN_TIMEOUT: '10s' };
    const { proc, port } = await start(env, 'api,worker,scheduler');
    const { json: boot } = await cliJson(['bootstrap', '--email', email()], env);
    const headers = { authorization: `Bearer ${boot.apiKey}`, 'content-type': 'application/json' };
    const cred = await fetch(`http://127.0.0.1:${port}/v1/credentials`, { method: 'POST', headers, body: JSON.stringify({ name: 's', provider: 'sandbox', secret: {} }) });
    expect(cred.status).toBe(201);
    const created = await fetch(`http://127.0.0.1:${port}/v1/resources`, {
      method: 'POST', headers, body: JSON.stringify({ name: 'r', provider: 'sandbox', type: 'vm', region: 'local', credentialId: (await cred.json()).id, spec: {} }),
    }).then((r) => r.json());
    const resourceId: string = created.resource.id;
    for (let deadline = Date.now() + 60_000; ; await sleep(300)) {
      const op = await fetch(`http://127.0.0.1:${port}/v1/operations/${created.operation.id}`, { headers }).then((r) => r.json());
      if (op.status === 'succeeded') break;
      expect(Date.now() < deadline, JSON.stringify(op)).toBe(true);
    }
    const current = await fetch(`http://127.0.0.1:${port}/v1/terraform/state/${resourceId}`, { headers }).then((r) => r.json());
    const before = (await query(db.url, 'select version from state_versions where resource_id = $1', [resourceId])).length;

    // A slow request: a Terraform state POST whose body arrives over 3 seconds, on a keep-alive connection.
    const state = JSON.stringify({ ...current, serial: current.serial + 1, pad: 'x'.repeat(3000) });
    const agent = new http.Agent({ keepAlive: true });
    const answered = new Promise<{ status: number; body: string }>((ok, fail) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: `/v1/terraform/state/${resourceId}`, agent, headers: { ...headers, 'content-length': Buffer.byteLength(state) } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => ok({ status: res.statusCode!, body }));
      });
      req.on('error', fail);
      void (async () => {
        for (let i = 0; i < 3; i++) {
          req.write(state.slice(i * 1000, (i + 1) * 1000));
          await sleep(1_000);
        }
        req.end(state.slice(3000));
      })();
    });
    await sleep(500); // the request is in flight
    const signaled = sigterm(proc);
    await sleep(300);
    expect(await portClosed(port), 'new connections are refused while the request finishes').toBe(true);
    const res = await answered;
    expect(res.status, res.body).toBe(200);
    const exit = await proc.waitForExit(15_000);
    const tookMs = Date.now() - signaled;
    agent.destroy();
    expect(exit.code, proc.describe()).toBe(0);
    expect(tookMs).toBeLessThan(10_000);
    expect(exit.stderr).toContain('"msg":"stopped"');
    const versions = await query(db.url, 'select version from state_versions where resource_id = $1', [resourceId]);
    expect(versions).toHaveLength(before + 1);
  }, 90_000);

  it('hands a running terraform back to the queue: lock released, exit well within the limit, another worker finishes it', async () => {
    const db = await freshDatabase();
    const env = { DATABASE_URL: db.url, REDIS_URL, SKYLOFT_REDIS_PREFIX: redis.prefix, SKYLOFT_MASTER_KEY: masterKey(), SKYLOFT_SHUTDOWN_TIMEOUT: '10s' };
    const [api, worker1] = await Promise.all([start(env, 'api,scheduler'), start(env, 'worker')]);
    const { json: boot } = await cliJson(['bootstrap', '--email', email()], env);
    const api1 = apiCaller(api.base, boot.apiKey);
    const call = async (method: string, path: string, body?: unknown) => (await api1(method, path, body)).json();
    const cred = await call('POST', '/v1/credentials', { name: 'sandbox', provider: 'sandbox', secret: {} });
    const { resource, operation } = await call('POST', '/v1/resources', { name: 'slow', provider: 'sandbox', type: 'vm', region: 'local', credentialId: cred.id, spec: { provisionSeconds: 30 } });
    for (let deadline = Date.now() + 60_000; ; await sleep(300)) {
      const op = await call('GET', `/v1/operations/${operation.id}`);
      if (op.status === 'running' && (await fetch(`http://127.0.0.1:${api.port}/v1/operations/${operation.id}/log`, { headers: { authorization: `Bearer ${boot.apiKey}` } }).then((r) => r.text())).includes('Provisioning with')) break;
      expect(Date.now() < deadline, `the apply never started\n${worker1.proc.describe()}`).toBe(true);
    }

    const signaled = sigterm(worker1.proc);
    const exit = await worker1.proc.waitForExit(20_000);
    const tookMs = Date.now() - signaled;
    expect(exit.code, worker1.proc.describe()).toBe(0);
    // Budget for 10 s: jobs may finish until 5 s, then terraform is stopped and the job handed back by 8 s.
    expect(tookMs, worker1.proc.describe()).toBeLessThan(9_000);
    expect(tookMs).toBeGreaterThan(4_000);
    expect(exit.stderr).toContain('"outcome":"handed-back"');
    // Handing back cost the operation no attempt: the one its worker counted was given back.
    expect(await call('GET', `/v1/operations/${operation.id}`)).toMatchObject({ status: 'running', attempts: 0 });

    // The lease is released and the job waits in the queue now, not after BullMQ's 30 s stalled-job check.
    expect(await query(db.url, 'select * from state_locks where resource_id = $1 and expires_at > now()', [resource.id])).toEqual([]);
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue('provisioning', { connection, prefix: redis.prefix });
    try {
      const jobs = await queue.getJobs(['wait', 'active', 'delayed', 'failed', 'completed']);
      const job = jobs.find((j) => j.data.operationId === operation.id);
      expect(await job?.getState()).toBe('waiting');
      expect(job?.attemptsMade).toBe(0); // handing back spends no attempt
    } finally {
      await queue.close();
      connection.disconnect();
    }

    await start(env, 'worker');
    let op: any;
    for (let deadline = Date.now() + 70_000; ; await sleep(1_000)) {
      op = await call('GET', `/v1/operations/${operation.id}`);
      if (['succeeded', 'failed', 'canceled'].includes(op.status) || Date.now() > deadline) break;
    }
    expect(op).toMatchObject({ status: 'succeeded' });
    expect(op.attempts).toBe(1);
    expect(await call('GET', `/v1/resources/${resource.id}`)).toMatchObject({ status: 'active' });
  }, 150_000);
});

describe('a start that fails', () => {
  it('with PORT taken exits non-zero by itself, having taken no job: the job waits, no attempt spent, the operation untouched', async () => {
    const db = await freshDatabase();
    const env = { DATABASE_URL: db.url, REDIS_URL, SKYLOFT_REDIS_PREFIX: redis.prefix, SKYLOFT_MASTER_KEY: masterKey() };
    // An API without workers accepts the work: its jobs wait in the queue.
    const api = await start(env, 'api');
    const { json: boot } = await cliJson(['bootstrap', '--email', email()], env);
    const headers = { authorization: `Bearer ${boot.apiKey}`, 'content-type': 'application/json' };
    const cred = await fetch(`http://127.0.0.1:${api.port}/v1/credentials`, { method: 'POST', headers, body: JSON.stringify({ name: 's', provider: 'sandbox', secret: {} }) }).then((r) => r.json());
    const { resource, operation } = await fetch(`http://127.0.0.1:${api.port}/v1/resources`, {
      method: 'POST', headers, body: JSON.stringify({ name: 'r', provider: 'sandbox', type: 'vm', region: 'local', credentialId: cred.id, spec: {} }),
    }).then((r) => r.json());

    // A full process on the API's port: every role, the worker included, but PORT is taken.
    const late = npm(['start'], { ...env, SKYLOFT_ROLES: 'api,worker,scheduler', PORT: String(api.port), TMPDIR: tmp });
    const exit = await late.waitForExit(60_000);
    expect(exit.code, late.describe()).toBe(1);
    expect(exit.stderr).toContain(`PORT ${api.port} is already in use`);
    expect(exit.stderr).not.toContain('worker role ready');

    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue('provisioning', { connection, prefix: redis.prefix });
    try {
      const job = (await queue.getJobs(['wait', 'active', 'delayed', 'failed', 'completed'])).find((j) => j.data.operationId === operation.id);
      expect(await job?.getState()).toBe('waiting');
      expect(job).toMatchObject({ attemptsMade: 0, attemptsStarted: 0 });
    } finally {
      await queue.close();
      connection.disconnect();
    }
    const op = await fetch(`http://127.0.0.1:${api.port}/v1/operations/${operation.id}`, { headers }).then((r) => r.json());
    expect(op).toMatchObject({ status: 'queued', attempts: 0, startedAt: null });
    expect(await query(db.url, 'select * from state_locks where resource_id = $1', [resource.id])).toEqual([]);
  }, 120_000);
});
