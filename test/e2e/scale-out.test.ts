import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedis } from '../../src/queue/redis.ts';
import { REDIS_URL } from '../support/env.ts';
import { apiCaller, cliJson, email, freshDatabase, killAll, masterKey, query, redisPrefix, sleep, startRoles, type NpmProcess } from '../support/process.ts';

/**
 * The production topology in miniature: one api process, one scheduler process and two worker processes sharing one
 * PostgreSQL and one Redis. The work is shared, nothing is done twice, and one worker's SIGKILL is absorbed.
 */
const redis = redisPrefix();
const tmp = mkdtempSync(join(tmpdir(), 'skyloft-e2e-scale-'));
chmodSync(tmp, 0o711); // passable by the uid terraform runs as (src/clouds/terraform/uids.ts)

afterAll(async () => {
  await killAll();
  rmSync(tmp, { recursive: true, force: true });
  await redis.drop();
});

/** Operations a worker process logged as done (its one line per job; auto-approved ones are one job each). */
function finishedBy(proc: NpmProcess): Set<string> {
  const ids = new Set<string>();
  for (const line of `${proc.stdout}\n${proc.stderr}`.split('\n')) {
    if (!line.includes('"job finished"') || !line.includes('"job":"provision"') || !line.includes('"outcome":"completed"')) continue;
    const op = /"operationId":"([^"]+)"/.exec(line)?.[1];
    if (op) ids.add(op);
  }
  return ids;
}

describe('two workers, a scheduler and an api on one PostgreSQL and one Redis', () => {
  it('share the work, do nothing twice, and absorb one worker\'s SIGKILL', async () => {
    const db = await freshDatabase();
    const env = { DATABASE_URL: db.url, REDIS_URL, SKYLOFT_REDIS_PREFIX: redis.prefix, SKYLOFT_MASTER_KEY: masterKey(), TMPDIR: tmp };
    const api = await startRoles('api', env);
    // One account sends all the work: its fair share (by default half of one worker's slots) would run one at a time.
    const workerEnv = { SKYLOFT_WORKER_CONCURRENCY: '2', SKYLOFT_ACCOUNT_CONCURRENCY: 'provisioning=4' };
    const [scheduler, worker1, worker2] = await Promise.all([startRoles('scheduler', env), startRoles('worker', { ...env, ...workerEnv }), startRoles('worker', { ...env, ...workerEnv })]);
    const { json: boot } = await cliJson(['bootstrap', '--email', email()], env);
    const call = apiCaller(api.base, boot.apiKey);
    const cred = await call('POST', '/v1/credentials', { name: 'sandbox', provider: 'sandbox', secret: {} });
    expect(cred.status).toBe(201);

    // Twelve creates of a few seconds each: more than one worker can run at once.
    const operations: string[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await call('POST', '/v1/resources', { name: `vm-${i}`, provider: 'sandbox', type: 'vm', region: 'local', credentialId: cred.json().id, spec: { provisionSeconds: 3 } });
      expect(res.status, res.text).toBe(202);
      operations.push(res.json().operation.id);
    }
    // Both workers at work, then one dies without a word.
    for (const deadline = Date.now() + 60_000; finishedBy(worker1.proc).size === 0 || finishedBy(worker2.proc).size === 0; await sleep(250)) {
      if (Date.now() > deadline) throw new Error(`both workers should have finished a job by now\n${worker1.proc.describe()}\n${worker2.proc.describe()}`);
    }
    await worker2.proc.kill();

    let statuses: string[] = [];
    for (const deadline = Date.now() + 180_000; Date.now() < deadline; await sleep(1_000)) {
      statuses = await Promise.all(operations.map(async (id) => (await call('GET', `/v1/operations/${id}`)).json().status as string));
      if (statuses.every((s) => ['succeeded', 'failed', 'canceled'].includes(s))) break;
    }
    expect(statuses).toEqual(operations.map(() => 'succeeded'));

    // Shared: each worker finished some; nothing twice: every operation finished its apply once, by one of them.
    const byOne = finishedBy(worker1.proc);
    const byTwo = finishedBy(worker2.proc);
    expect(byOne.size).toBeGreaterThan(0);
    expect(byTwo.size).toBeGreaterThan(0);
    expect([...byOne].filter((id) => byTwo.has(id))).toEqual([]);
    // One state version per resource (one create each), no lock left behind.
    const versions = await query<{ resource_id: string; n: number }>(db.url, 'select resource_id, count(*)::int as n from state_versions group by 1');
    expect(versions).toHaveLength(12);
    for (const v of versions) expect(v.n, v.resource_id).toBe(1);
    expect(await query(db.url, 'select * from state_locks')).toEqual([]);

    // The schedules exist once per credential, whoever registered them (the api at create, the scheduler every minute).
    const r = createRedis(REDIS_URL);
    await r.connect();
    try {
      for (const queue of ['inventory', 'health', 'cost']) {
        const keys = await r.zrange(`${redis.prefix}:${queue}:repeat`, 0, -1);
        expect(keys.filter((k) => k.includes(cred.json().id)), queue).toHaveLength(1);
      }
    } finally {
      r.disconnect();
    }
    expect(scheduler.proc.running).toBe(true);
  }, 300_000);
});
