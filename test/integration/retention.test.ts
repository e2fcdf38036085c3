import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneHistory } from '../../src/modules/retention/service.ts';
import { newId } from '../../src/shared/ids.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';
import { insertResource } from '../support/resources.ts';

let ctx: TestContext;
let accountId: string;
let credentialId: string;
const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString();

beforeAll(async () => {
  ctx = await createTestContext();
  const boot = await ctx.bootstrap();
  accountId = boot.accountId;
  const res = await ctx.app.inject({ method: 'POST', url: '/v1/credentials', headers: bearer(boot.apiKey), payload: { name: 'kept', provider: 'sandbox', secret: {} } });
  expect(res.statusCode, res.body).toBe(201);
  credentialId = res.json().id;
});

afterAll(async () => {
  await ctx?.close();
});

const exec = (sql: string, params: unknown[] = []) => ctx.orm.em.getConnection().execute<any[]>(sql, params);
const count = async (sql: string, params: unknown[] = []) => Number((await exec(sql, params))[0]!.n);

async function syncRun(status: string, finishedDaysAgo: number): Promise<string> {
  const id = newId();
  await exec(`insert into sync_runs (id, account_id, credential_id, status, errors, started_at, finished_at) values (?, ?, ?, ?, '[]', ?, ?)`,
    [id, accountId, credentialId, status, ago(finishedDaysAgo + 1), ago(finishedDaysAgo)]);
  return id;
}

describe('pruning history', () => {
  it('removes what is older than the retention and keeps the rest, and each credential\'s newest finished runs', async () => {
    // Runs are ids in time order (UUIDv7): the newest succeeded one is old too, but it stays.
    const oldFailed = await syncRun('failed', 200);
    const newestSucceeded = await syncRun('succeeded', 120);
    const oldPartial = await syncRun('partial', 100);
    const recent = await syncRun('succeeded', 5);
    await exec(`insert into sync_runs (id, account_id, credential_id, status, errors, started_at) values (?, ?, ?, 'running', '[]', ?)`, [newId(), accountId, credentialId, ago(300)]);
    // With a recent succeeded run, the old succeeded one goes; run again without it below.
    const item = (deletedDaysAgo: number | null) => exec(
      `insert into inventory_items (id, account_id, credential_id, provider, type, kind, region, external_id, name, status, metadata, tags,
                                    content_hash, first_seen_at, last_seen_at, last_run_id, deleted_at)
       values (?, ?, ?, 'sandbox', 'vm', 'x', 'r', ?, 'n', 'running', '{}', '{}', 'h', now(), now(), ?, ?)`,
      [newId(), accountId, credentialId, newId(), recent, deletedDaysAgo === null ? null : ago(deletedDaysAgo)]);
    await item(null);
    await item(10);
    await item(100);
    const check = (daysAgo: number) => exec(
      `insert into health_checks (id, account_id, credential_id, status, checked_at) values (?, ?, ?, 'healthy', ?)`,
      [newId(), accountId, credentialId, ago(daysAgo)]);
    await check(1);
    await check(95);
    const resource = await insertResource(ctx, accountId);
    const operation = (finishedDaysAgo: number) => {
      const id = newId();
      return exec(
        `insert into operations (id, account_id, resource_id, kind, status, step, spec, log, started_at, finished_at)
         values (?, ?, ?, 'apply', 'succeeded', 'done', '{}', 'terraform said things', ?, ?)`,
        [id, accountId, resource.id, ago(finishedDaysAgo + 1), ago(finishedDaysAgo)],
      ).then(() => id);
    };
    const oldOp = await operation(120);
    const newOp = await operation(2);

    const pruned = await pruneHistory(ctx.orm.em.fork(), 90);
    expect(pruned).toMatchObject({ tombstones: 1, healthChecks: 1, operationLogs: 1 });
    const runs = (await exec('select id, status from sync_runs where credential_id = ? order by id', [credentialId])).map((r: { id: string }) => r.id);
    expect(runs).not.toContain(oldFailed);
    expect(runs).not.toContain(oldPartial);
    expect(runs).not.toContain(newestSucceeded); // a newer succeeded run exists
    expect(runs).toContain(recent);
    expect(await count(`select count(*) as n from sync_runs where credential_id = ? and status = 'running'`, [credentialId])).toBe(1);
    expect(await count('select count(*) as n from inventory_items where credential_id = ?', [credentialId])).toBe(2);
    expect(await count('select count(*) as n from health_checks where credential_id = ?', [credentialId])).toBe(1);
    const logs = Object.fromEntries((await exec('select id, log from operations where resource_id = ?', [resource.id])).map((r: { id: string; log: string }) => [r.id, r.log]));
    expect(logs).toEqual({ [oldOp]: '', [newOp]: 'terraform said things' });

    // The newest succeeded run stays however old it is: freshness keeps its last complete sync.
    await exec('delete from sync_runs where id = ?', [recent]);
    const kept = await syncRun('succeeded', 150);
    await pruneHistory(ctx.orm.em.fork(), 90);
    expect((await exec(`select id from sync_runs where credential_id = ? and status = 'succeeded'`, [credentialId])).map((r: { id: string }) => r.id)).toEqual([kept]);
    expect(await pruneHistory(ctx.orm.em.fork(), 90)).toEqual({ tombstones: 0, syncRuns: 0, costRuns: 0, healthChecks: 0, operationLogs: 0 });
  });
});

describe('job records', () => {
  it('are kept as SKYLOFT_KEEP_COMPLETED_JOBS / SKYLOFT_KEEP_FAILED_JOBS say, on jobs and job schedulers alike', async () => {
    const own = await createTestContext({ SKYLOFT_KEEP_COMPLETED_JOBS: '7', SKYLOFT_KEEP_FAILED_JOBS: '9' });
    try {
      await own.deps.queues.add('health-check', { credentialId: newId(), checkId: newId(), accountId: 'acct' });
      const [job] = await own.deps.queues.get('health').getJobs(['waiting']);
      expect(job?.opts).toMatchObject({ removeOnComplete: { count: 7 }, removeOnFail: { count: 9 } });
      const credentialId = newId();
      await own.deps.schedules.upsertFor({ id: credentialId, accountId: 'acct' }, { inventoryMinutes: 15, healthMinutes: 5, costCron: '0 2 * * *' });
      const scheduler = await own.deps.queues.get('health').getJobScheduler(`health_${credentialId}`);
      expect(scheduler?.template?.opts).toMatchObject({ removeOnComplete: { count: 7 }, removeOnFail: { count: 9 } });
    } finally {
      await own.close();
    }
  });
});
