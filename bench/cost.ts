import { readFileSync } from 'node:fs';
import { ApiBudget } from '../src/clouds/budget.ts';
import { openCloud, type CloudInput } from '../src/clouds/index.ts';
import { addDays, today } from '../src/modules/cost/days.ts';
import { createRedis } from '../src/queue/redis.ts';
import { OutboundGuard } from '../src/shared/outbound.ts';
import { resolveOptions } from '../test/emulator/options.ts';
import { startEmulatorProcess, type EmulatorInfo } from './emulator.ts';
import {
  api, bootstrap, nodeOptionsEnv, emit, hex, percentile, progress, REDIS_URL, Scope, skyloftEnv, sleep, sql, startSkyloft, type Api, type Options,
} from './support.ts';

/**
 * cost: `resources` billed GCP resources x `days` days x 3 services (about 1,000,000 lines at the defaults), served by
 * the emulator in its own process as a Cloud Billing export in BigQuery (the GCP adapter's one query, its result
 * read page by page). One api and one worker process on a fresh database.
 *
 * - ingest_rows_per_s: lines stored / seconds from POST /v1/costs/collect over the whole range until the run
 *   finished. Baseline: the same adapter (src/clouds/gcp) fetching the same range from the same emulator in this
 *   process, storing nothing.
 * - month_by_service_p99_ms: GET /v1/costs for one whole month grouped by service, `queries` times in a row, p99.
 * - month_by_resource_p99_ms: the same month grouped by resource (top 100), a fifth as many times, p99.
 * `--cpu-profile 1` runs the worker under `node --cpu-prof` and names the directory of its profiles.
 */
const SUITE = 'cost';
export const defaults: Options = { resources: 1_000, days: 365, queries: 300, timeoutMinutes: 30, cpuProfile: 0 };

function gcpInput(emu: EmulatorInfo, credentialId: string): CloudInput & { options: Record<string, unknown> } {
  const g = resolveOptions().gcp;
  return {
    provider: 'gcp',
    credentialId,
    endpoints: { api: emu.gcp },
    options: { billingDataset: g.billingDataset, billingTable: g.billingTable },
    secret: { projectId: emu.credentials.gcp.projectId, serviceAccountJson: readFileSync(emu.credentials.gcp.keyFile, 'utf8') },
  };
}

/** The adapter alone: every line of [from, to) fetched and counted, nothing kept. */
async function adapterOnly(emu: EmulatorInfo, from: string, to: string): Promise<{ lines: number; seconds: number }> {
  const redis = createRedis(REDIS_URL);
  await redis.connect();
  const prefix = `bench-cost-${hex()}`;
  try {
    const cloud = await openCloud(gcpInput(emu, crypto.randomUUID()), {
      budget: new ApiBudget(redis, prefix),
      outbound: new OutboundGuard({ allowedEndpoints: [{ host: '127.0.0.1', subdomains: false }], localMode: false }),
    });
    let lines = 0;
    const started = performance.now();
    for await (const page of cloud.cost.collect({ from, to }, { paidRequest() {}, notice() {} })) lines += page.length;
    return { lines, seconds: (performance.now() - started) / 1000 };
  } finally {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
}

async function waitForRun(call: Api, runId: string, timeoutMs: number): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let lastReport = Date.now();
  for (;;) {
    const run = (await call('GET', `/v1/costs/runs/${runId}`)).json;
    if (run.status === 'succeeded') return run;
    if (run.status === 'failed') throw new Error(`cost run ${runId} failed: ${run.error}`);
    if (Date.now() > deadline) throw new Error(`cost run ${runId} still ${run.status}`);
    if (Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      progress(SUITE, `  run ${run.status}...`);
    }
    await sleep(100);
  }
}

export async function run(opts: Options): Promise<void> {
  const scope = new Scope();
  try {
    const days = opts.days!;
    progress(SUITE, `starting the emulator: ${opts.resources} billed resources x ${days} days x 3 services`);
    const emu = await startEmulatorProcess(scope, [
      '--port', '0', '--seed', '11', '--gcp-zones', 'us-central1-a', '--gcp-instances', String(opts.resources),
      '--spend-resources', String(opts.resources), '--spend-services', '3', '--spend-days', String(days),
    ]);
    const from = addDays(today(), -days);
    const to = today();

    progress(SUITE, 'starting one api and one worker process on a fresh database');
    // A one-day backfill when the credential is registered, so the measured collection runs alone.
    const env = await skyloftEnv(scope, 'cost', { SKYLOFT_RATE_LIMIT: '100000', SKYLOFT_COST_BACKFILL_DAYS: '1' });
    const { url } = await startSkyloft(scope, 'api', { ...env, SKYLOFT_ROLES: 'api' });
    const worker = await startSkyloft(scope, 'worker', { ...env, SKYLOFT_ROLES: 'worker', ...nodeOptionsEnv(scope, SUITE, 'worker', opts.cpuProfile) });
    const call = api(url, await bootstrap(env));

    progress(SUITE, 'warm-up: one untimed adapter fetch of 30 days');
    await adapterOnly(emu, addDays(to, -30), to);
    progress(SUITE, 'baseline: the adapter fetching the whole range, storing nothing');
    const baseline = await adapterOnly(emu, from, to);
    progress(SUITE, `  ${baseline.lines} lines in ${baseline.seconds.toFixed(2)} s`);

    const input = gcpInput(emu, '');
    const created = await call('POST', '/v1/credentials', { name: `bench-gcp-${hex()}`, provider: 'gcp', endpoints: input.endpoints, options: input.options, secret: input.secret });
    if (created.status !== 201) throw new Error(`credential: HTTP ${created.status} ${JSON.stringify(created.json)}`);
    const credentialId = created.json.id as string;
    const backfill = (await call('GET', `/v1/costs/runs?credentialId=${credentialId}`)).json.items[0];
    await waitForRun(call, backfill.id, 120_000);
    // Registering also started the credential's first inventory sync: let it finish, so the collection runs alone.
    for (const deadline = Date.now() + 120_000; ; await sleep(200)) {
      const runs = (await call('GET', `/v1/inventory/runs?credentialId=${credentialId}`)).json.items as { status: string }[];
      if (runs.length > 0 && runs.every((r) => r.status !== 'running')) break;
      if (Date.now() > deadline) throw new Error('the first inventory sync did not finish in 120 s');
    }

    progress(SUITE, `collecting ${from} to ${to} through Skyloft`);
    const started = performance.now();
    const res = await call('POST', '/v1/costs/collect', { credentialId, from, to });
    if (res.status !== 202) throw new Error(`collect: HTTP ${res.status} ${JSON.stringify(res.json)}`);
    const done = await waitForRun(call, res.json.runIds[0], opts.timeoutMinutes! * 60_000);
    const seconds = (performance.now() - started) / 1000;
    const [{ rows }] = await sql<{ rows: number }>(env.DATABASE_URL!, 'select count(*)::int as rows from cost_data where credential_id = $1', [credentialId]) as [{ rows: number }];
    progress(SUITE, `  ${done.lines} lines (${rows} rows) in ${seconds.toFixed(2)} s, ${done.paidRequests} paid request(s)`);
    const phases = readFileSync(worker.logFile, 'utf8').split('\n').filter((l) => l.includes(done.id) && l.includes('fetchMs')).pop();
    if (phases) progress(SUITE, `  worker: ${phases}`);
    if (done.lines < baseline.lines) throw new Error(`Skyloft stored ${done.lines} lines, the adapter fetched ${baseline.lines}`);
    emit(SUITE, 'ingest_rows_per_s', done.lines / seconds, 'rows/s', { label: 'the same adapter fetch, storing nothing', value: baseline.lines / baseline.seconds });

    // The last whole month in the range.
    const monthFrom = `${addDays(`${to.slice(0, 7)}-01`, -1).slice(0, 7)}-01`;
    const monthTo = `${to.slice(0, 7)}-01`;
    progress(SUITE, `${opts.queries} x GET /v1/costs?from=${monthFrom}&to=${monthTo}&groupBy=service`);
    const times: number[] = [];
    for (let i = 0; i < opts.queries!; i++) {
      const t = performance.now();
      const answer = await call('GET', `/v1/costs?from=${monthFrom}&to=${monthTo}&groupBy=service`);
      times.push(performance.now() - t);
      if (answer.status !== 200 || answer.json.groups.length === 0) throw new Error(`GET /v1/costs: HTTP ${answer.status} ${JSON.stringify(answer.json).slice(0, 300)}`);
    }
    progress(SUITE, `  p50 ${percentile(times, 50).toFixed(1)} ms`);
    emit(SUITE, 'month_by_service_p99_ms', percentile(times, 99), 'ms');

    // The same month by resource reads the per-resource lines themselves (about resources x 3 x 30 rows), not the daily totals.
    const byResource: number[] = [];
    for (let i = 0; i < Math.max(10, Math.floor(opts.queries! / 5)); i++) {
      const t = performance.now();
      const answer = await call('GET', `/v1/costs?from=${monthFrom}&to=${monthTo}&groupBy=resource&limit=100`);
      byResource.push(performance.now() - t);
      if (answer.status !== 200) throw new Error(`GET /v1/costs by resource: HTTP ${answer.status}`);
    }
    emit(SUITE, 'month_by_resource_p99_ms', percentile(byResource, 99), 'ms');
  } finally {
    await scope.close();
  }
}
