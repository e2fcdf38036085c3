import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { cliJson, email, freePort, freshDatabase, killAll, masterKey, npm, sleep, waitForOk } from '../support/process.ts';

/**
 * Skyloft on a Redis Cluster and behind Redis Sentinel, each started by this test on spare ports (never the machine's
 * Redis): a sandbox resource is provisioned through the queue end to end on each.
 */
const run = promisify(execFile);
const children: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'skyloft-redis-'));

function redisServer(args: string[]): Promise<void> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  children.push(child);
  let out = '';
  return new Promise<void>((ok, fail) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (/Ready to accept connections|Sentinel ID is/.test(out)) ok();
    });
    child.once('exit', (code) => fail(new Error(`redis-server ${args.join(' ')} exited with ${code}\n${out}`)));
  });
}

afterAll(async () => {
  await killAll();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Starts Skyloft (all roles) on `redisUrl`, provisions one sandbox VM and answers the operation's final status. */
async function provisionOnce(redisUrl: string): Promise<string> {
  const db = await freshDatabase();
  const env = { DATABASE_URL: db.url, REDIS_URL: redisUrl, SKYLOFT_MASTER_KEY: masterKey() };
  const port = await freePort();
  const proc = npm(['start'], { ...env, PORT: String(port) });
  await waitForOk(proc, `http://127.0.0.1:${port}/readyz`, 60_000);
  const { json: boot } = await cliJson(['bootstrap', '--email', email()], env);
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { authorization: `Bearer ${boot.apiKey}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as any };
  };
  const cred = await call('POST', '/v1/credentials', { name: 'sandbox', provider: 'sandbox', secret: {} });
  expect(cred.status, JSON.stringify(cred.json)).toBe(201);
  const created = await call('POST', '/v1/resources', { name: 'vm-1', provider: 'sandbox', type: 'vm', region: 'local', credentialId: cred.json.id, spec: {} });
  expect(created.status, JSON.stringify(created.json)).toBe(202);
  const queues = await call('GET', '/v1/queues');
  if (queues.status !== 404) expect(queues.status, JSON.stringify(queues.json)).toBe(200);
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(500)) {
    const op = await call('GET', `/v1/operations/${created.json.operation.id}`);
    if (['succeeded', 'failed', 'canceled'].includes(op.json.status)) {
      await proc.terminate();
      return op.json.status;
    }
  }
  throw new Error(`operation still running\n${proc.describe()}`);
}

describe('Redis topologies', () => {
  it('runs on a three-node Redis Cluster (keys hash-tagged into one slot per queue)', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    await Promise.all(ports.map((p) => redisServer(['--port', String(p), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
      '--cluster-config-file', `nodes-${p}.conf`, '--save', '', '--appendonly', 'no'])));
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    for (let i = 0; i < 50; i++) {
      const { stdout } = await run('redis-cli', ['-p', String(ports[0]), 'cluster', 'info']);
      if (stdout.includes('cluster_state:ok')) break;
      await sleep(200);
    }
    expect(await provisionOnce(`redis-cluster://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]}`)).toBe('succeeded');
  }, 240_000);

  it('runs behind Redis Sentinel, finding the master by name', async () => {
    const master = await freePort();
    const sentinel = await freePort();
    await redisServer(['--port', String(master), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
    const conf = join(dir, `sentinel-${sentinel}.conf`);
    writeFileSync(conf, `port ${sentinel}\nbind 127.0.0.1\nsentinel monitor skyloft-test 127.0.0.1 ${master} 1\nsentinel down-after-milliseconds skyloft-test 5000\n`);
    await redisServer([conf, '--sentinel']);
    expect(await provisionOnce(`redis-sentinel://127.0.0.1:${sentinel}/skyloft-test`)).toBe('succeeded');
  }, 240_000);
});
