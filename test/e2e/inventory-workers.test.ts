import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_URL } from '../support/env.ts';
import { apiCaller, cliJson, email, freePort, freshDatabase, killAll, masterKey, npm, query, redisPrefix, sleep, startRoles, type NpmProcess } from '../support/process.ts';

/**
 * Two worker processes and an api process (real `npm start`, one fresh database, one Redis prefix) syncing the same
 * AWS credential concurrently, against an emulator running in its own process (`npm run emulator`).
 */
const redis = redisPrefix();
const INSTANCES_PER_REGION = 3_000;

afterAll(async () => {
  await killAll(); // api, both workers and the emulator: every process group started here
  await redis.drop();
});

interface EmulatorLine {
  aws: string;
  credentials: { aws: { accessKeyId: string; secretAccessKey: string } };
  pid: number;
}

/** `npm run --silent emulator` on three consecutive ports; retries on other ports if one of them was taken. */
async function startEmulatorProcess(): Promise<{ proc: NpmProcess; info: EmulatorLine }> {
  let last = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const proc = npm(['run', '--silent', 'emulator', '--', '--port', String(port), '--aws-instances', String(INSTANCES_PER_REGION)], {});
    for (const deadline = Date.now() + 60_000; Date.now() < deadline && proc.running; await sleep(100)) {
      const line = proc.stdout.split('\n').find((l) => l.trim().startsWith('{'));
      if (line) {
        try {
          return { proc, info: JSON.parse(line) as EmulatorLine };
        } catch {
          // the line is still being written
        }
      }
    }
    last = proc.describe();
    await proc.kill();
  }
  throw new Error(`the emulator did not start\n${last}`);
}

describe('two worker processes syncing the same AWS credential', () => {
  it('join one run, store every instance exactly once, and never fail a run', async () => {
    const emulator = await startEmulatorProcess();
    const emu = emulator.info;
    const control = async (path: string) => (await fetch(`${emu.aws}/_emulator${path}`)).json();
    const { count: fleet } = (await control('/count?cloud=aws&kind=instances')) as { count: number };
    expect(fleet % INSTANCES_PER_REGION).toBe(0);
    expect(fleet).toBeGreaterThan(INSTANCES_PER_REGION); // several regions

    const db = await freshDatabase();
    const env = { DATABASE_URL: db.url, REDIS_URL, SKYLOFT_REDIS_PREFIX: redis.prefix, SKYLOFT_MASTER_KEY: masterKey() };
    const [api, worker1, worker2] = await Promise.all([startRoles('api', env), startRoles('worker', env), startRoles('worker', env)]);
    const { json: boot } = await cliJson(['bootstrap', '--email', email()], env);
    const call = apiCaller(api.base, boot.apiKey);

    const cred = await call('POST', '/v1/credentials', {
      name: 'emulated-aws',
      provider: 'aws',
      region: 'us-east-1',
      endpoints: { api: emu.aws },
      secret: { accessKeyId: emu.credentials.aws.accessKeyId, secretAccessKey: emu.credentials.aws.secretAccessKey },
    });
    expect(cred.status, cred.text).toBe(201);
    const credentialId: string = cred.json().id;

    // Two requests at the same moment, then a third.
    const sync = () => call('POST', '/v1/inventory/sync', { credentialId });
    const [a, b] = await Promise.all([sync(), sync()]);
    const c = await sync();
    for (const res of [a, b, c]) expect(res.status, res.text).toBe(202);
    const [runA] = a.json().runIds as string[];
    const [runB] = b.json().runIds as string[];
    const [runC] = c.json().runIds as string[];
    expect(runB, 'two simultaneous requests join one run').toBe(runA);
    const getRun = async (id: string) => (await call('GET', `/v1/inventory/runs/${id}`)).json();
    if (runC !== runA) {
      // Only possible when the first run already finished: then the third request starts a later one.
      expect(runC! > runA!, `${runC} is not later than ${runA}`).toBe(true);
      const [first, third] = [await getRun(runA!), await getRun(runC!)];
      expect(Date.parse(third.startedAt)).toBeGreaterThanOrEqual(Date.parse(first.startedAt));
    }

    // Wait until no run of the credential is running.
    type Run = { id: string; status: string; errors: unknown[]; added: number; deleted: number; startedAt: string };
    let runs: Run[] = [];
    for (const deadline = Date.now() + 180_000; ; await sleep(500)) {
      const res = await call('GET', `/v1/inventory/runs?credentialId=${credentialId}&limit=100`);
      expect(res.status, res.text).toBe(200);
      runs = res.json().items;
      if (runs.length > 0 && runs.every((r) => r.status !== 'running')) break;
      expect(Date.now() < deadline, `runs still running: ${JSON.stringify(runs)}\n${worker1.proc.describe(2000)}\n${worker2.proc.describe(2000)}`).toBe(true);
    }
    // Every answer named one of the runs recorded, and no run ended failed (nor partial: the emulator has no faults).
    const ids = runs.map((r) => r.id);
    expect(ids).toEqual(expect.arrayContaining([runA, runC]));
    for (const run of runs) expect(run, JSON.stringify(runs)).toMatchObject({ status: 'succeeded', errors: [] });
    expect(runs.find((r) => r.id === runA)!.added).toBeGreaterThanOrEqual(fleet);

    // Every instance exactly once, through the API's cursor paging ...
    const seen: { externalId: string; region: string }[] = [];
    let cursor: string | null = null;
    do {
      const res = await call('GET', `/v1/inventory?provider=aws&type=vm&limit=500${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status, res.text).toBe(200);
      const page: { items: { externalId: string; region: string }[]; nextCursor: string | null } = res.json();
      seen.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(fleet);
    expect(new Set(seen.map((i) => i.externalId)).size).toBe(fleet);
    expect(new Set(seen.map((i) => i.region)).size).toBeGreaterThan(1);

    // ... and in the table itself, tombstones included: no duplicate row and nothing marked deleted.
    const [rows] = await query<{ total: string; distinct_ids: string; deleted: string }>(
      db.url,
      `select count(*) as total, count(distinct external_id) as distinct_ids, count(deleted_at) as deleted
         from inventory_items where credential_id = $1 and type = 'vm'`,
      [credentialId],
    );
    expect(rows).toEqual({ total: String(fleet), distinct_ids: String(fleet), deleted: '0' });

    // Clean up every process: the Skyloft ones by SIGTERM (a clean stop), the emulator by SIGTERM too.
    await Promise.all([api.proc.terminate(), worker1.proc.terminate(), worker2.proc.terminate()]);
    process.kill(emu.pid, 'SIGTERM');
    await emulator.proc.waitForExit(15_000);
    await emulator.proc.waitForGroupExit(10_000);
  }, 300_000);
});
