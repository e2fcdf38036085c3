import { afterAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../emulator/emulator.ts';
import { REDIS_URL } from '../support/env.ts';
import { cliJson, email, freshDatabase, killAll, masterKey, redisPrefix, sleep, startRoles } from '../support/process.ts';

/**
 * Every process serves /metrics on its PORT: an api process and a worker-only process (real `npm start`), the worker
 * syncing against the emulator. The worker's metrics (jobs, cloud calls) are only in the worker's scrape, the
 * inventory freshness only in the api's, and SKYLOFT_METRICS_ALLOW=none leaves the worker's /metrics to SKYLOFT_METRICS_TOKEN.
 */
const redis = redisPrefix();
let emu: Awaited<ReturnType<typeof startEmulator>> | undefined;

afterAll(async () => {
  await killAll();
  await emu?.close();
  await redis.drop();
});

const sample = (text: string, pattern: RegExp) => text.split('\n').filter((l) => !l.startsWith('#') && pattern.test(l));
const value = (line: string | undefined) => Number(line?.split(' ').at(-1));

describe('/metrics in an api process and a worker-only process', () => {
  it('serves each process its own metrics, under each process its own access list', async () => {
    emu = await startEmulator({ seed: 3, aws: { regions: ['us-east-1'], counts: { instances: 5, volumes: 1, vpcs: 1, subnets: 1, securityGroups: 1, buckets: 1 } } });
    const db = await freshDatabase();
    const token = `prometheus-${masterKey()}`;
    const env = { DATABASE_URL: db.url, REDIS_URL, SKYLOFT_REDIS_PREFIX: redis.prefix, SKYLOFT_MASTER_KEY: masterKey(), SKYLOFT_METRICS_TOKEN: token };
    const [api, worker] = await Promise.all([startRoles('api,scheduler', env), startRoles('worker', { ...env, SKYLOFT_METRICS_ALLOW: 'none' })]);
    const { json: boot } = await cliJson(['bootstrap', '--email', email()], env);
    const auth = { authorization: `Bearer ${boot.apiKey}` };

    const cred = await fetch(`${api.base}/v1/credentials`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'emulated-aws',
        provider: 'aws',
        region: 'us-east-1',
        endpoints: { api: emu.urls.aws },
        secret: { accessKeyId: emu.credentials.aws.accessKeyId, secretAccessKey: emu.credentials.aws.secretAccessKey },
      }),
    });
    expect(cred.status).toBe(201);
    const credentialId: string = ((await cred.json()) as { id: string }).id;

    // The worker process does the registration's health check and first sync; its scrape shows them.
    let workerText = '';
    for (const deadline = Date.now() + 60_000; ; await sleep(500)) {
      const res = await fetch(`${worker.base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      workerText = await res.text();
      if (sample(workerText, /^skyloft_job_duration_seconds_count\{.*job="inventory-finish".*outcome="completed"/).length > 0) break;
      expect(Date.now() < deadline, `no finished sync in the worker's metrics\n${worker.proc.describe(2000)}`).toBe(true);
    }
    expect(value(sample(workerText, /^skyloft_cloud_api_calls_total\{provider="aws",service="ec2",outcome="ok"\}/)[0])).toBeGreaterThan(0);
    expect(sample(workerText, /^skyloft_job_duration_seconds_count\{queue="health",job="health-check"/).length).toBeGreaterThan(0);
    expect(sample(workerText, /^skyloft_queue_jobs\{queue="inventory",state="completed"\}/)).toHaveLength(1);
    expect(sample(workerText, /^process_resident_memory_bytes /)).toHaveLength(1);
    expect(sample(workerText, /^skyloft_inventory_sync_age_seconds/)).toEqual([]); // the api's job, not every process's
    // SKYLOFT_METRICS_ALLOW=none: even 127.0.0.1 needs the token (or an installation key) here; an account's key never.
    expect((await fetch(`${worker.base}/metrics`)).status).toBe(403);
    expect((await fetch(`${worker.base}/metrics`, { headers: auth })).status).toBe(403);

    // The api process: allow-listed 127.0.0.1 without a key (the default list), its HTTP histogram and freshness.
    const apiRes = await fetch(`${api.base}/metrics`);
    expect(apiRes.status).toBe(200);
    const apiText = await apiRes.text();
    expect(value(sample(apiText, /^skyloft_http_request_duration_seconds_count\{method="POST",route="\/v1\/credentials",status="201"\}/)[0])).toBe(1);
    expect(sample(apiText, /^skyloft_inventory_sync_age_seconds\{provider="aws"\}/)).toHaveLength(1);
    expect(apiText).not.toContain(credentialId);
    expect(sample(apiText, /^skyloft_job_duration_seconds_count/)).toEqual([]); // no worker role in this process
  }, 150_000);
});
