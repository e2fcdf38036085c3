import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import {
  api, bootstrap, nodeOptionsEnv, emit, hex, progress, ROOT, Scope, skyloftEnv, sleep, sql, startSkyloft, type Api, type Options,
} from './support.ts';
import { groupPids, startEmulatorProcess, type EmulatorInfo } from './emulator.ts';

/**
 * inventory: `instances` emulated EC2 instances spread evenly over 4 AWS regions (other kinds small), served by the
 * cloud emulator in its own process (`npm run emulator`). One api process (SKYLOFT_ROLES=api) and one worker process
 * (SKYLOFT_ROLES=worker) on a fresh database; an AWS credential whose endpoints.api is the emulator.
 *
 * - sync_items_per_s: items stored / seconds from registering the credential (POST /v1/credentials; its scheduled
 *   sync starts at once) until that run is no longer running. Baseline: the same @aws-sdk/client-ec2 NextToken listing
 *   of every EC2 scope of the fleet, in a node process of its own (bench/sdk-listing.ts; same page size as the
 *   adapter, MaxResults 1000, same scope concurrency as the worker's inventory queue, 8) storing nothing.
 * - worker_rss_mb: peak RSS (VmHWM) of the worker's node process, sampled from /proc during the first sync. Baseline:
 *   the peak RSS of the SDK listing alone (bench/sdk-listing.ts, a fresh node process, as the worker is).
 * - resync_seconds: a second sync with no change in the fleet (baseline: the first sync's seconds).
 * - raw_upsert_rows_per_s: INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE of the same number of rows into a
 *   scratch table, pages of 1,000 rows, with pg directly (reference).
 * `--cpu-profile 1` runs the worker under `node --cpu-prof` and names the directory of its profiles;
 * `--worker-semi-space-mb 16` measures both sides with V8's young generation capped (as README.md advises for workers).
 */
const SUITE = 'inventory';
const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1', 'ap-southeast-2'];
const EC2_KINDS = ['instances', 'volumes', 'vpcs', 'subnets', 'securityGroups'] as const;
/** The adapter's page size for DescribeInstances (src/clouds/aws/listers.ts, EC2_KINDS max). */
const PAGE = 1000;
/** The worker's inventory queue concurrency (workers/index.ts). */
const SCOPE_CONCURRENCY = 8;
const SMALL = { volumes: 25, vpcs: 2, subnets: 4, securityGroups: 3, buckets: 2 };

export const defaults: Options = { instances: 100_000, timeoutMinutes: 30, debug: 0, cpuProfile: 0, workerSemiSpaceMb: 0 };

/** `--worker-semi-space-mb N`: the worker, and the SDK listing it is compared with, run with --max-semi-space-size=N. */
const semiSpace = (opts: Options) => (opts.workerSemiSpaceMb ? [`--max-semi-space-size=${opts.workerSemiSpaceMb}`] : []);

/** The node process that runs src/main.ts in `npm start`'s group (the leaf, should anything wrap it in a parent node). */
function serverPid(pgid: number): number {
  const procs = groupPids(pgid).filter((p) => p.cmd.includes('src/main.ts'));
  const leaf = procs.find((p) => !procs.some((q) => q.ppid === p.pid));
  if (!leaf) throw new Error(`no node process running src/main.ts in group ${pgid}: ${JSON.stringify(groupPids(pgid))}`);
  return leaf.pid;
}

function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** POST /v1/inventory/sync, then poll the run until it is no longer running. Seconds from POST to finish. */
async function syncOnce(call: Api, credentialId: string, timeoutMs: number, onTick?: () => void, startedAt?: number): Promise<{ seconds: number; run: any }> {
  const started = startedAt ?? performance.now();
  const res = await call('POST', '/v1/inventory/sync', { credentialId });
  if (res.status !== 202) throw new Error(`sync: HTTP ${res.status} ${JSON.stringify(res.json)}`);
  const runId = res.json.runIds[0] as string;
  const deadline = Date.now() + timeoutMs;
  let lastReport = performance.now();
  for (;;) {
    onTick?.();
    const run = (await call('GET', `/v1/inventory/runs/${runId}`)).json;
    if (run.status !== 'running') {
      const seconds = (performance.now() - started) / 1000;
      if (process.env.BENCH_DEBUG) {
        const rows = await sql(process.env.BENCH_DEBUG, `select region, kind, items, extract(epoch from finished_at - (select started_at from sync_runs where id = $1))::float as t
          from sync_scopes where run_id = $1 order by finished_at`, [runId]);
        progress(SUITE, `  scopes: ${rows.map((r) => `${r.region}/${r.kind}:${r.items}@${Number(r.t).toFixed(2)}`).join(' ')}; run ${run.durationMs} ms`);
      }
      if (run.status !== 'succeeded') throw new Error(`sync run ${runId} ended ${run.status}: ${JSON.stringify(run.errors)}`);
      return { seconds, run };
    }
    if (Date.now() > deadline) throw new Error(`sync run ${runId} still running: ${JSON.stringify(run)}`);
    if (performance.now() - lastReport > 10_000) {
      lastReport = performance.now();
      progress(SUITE, `  ${((lastReport - started) / 1000).toFixed(0)} s: ${run.scopesDone}/${run.scopesTotal} scopes`);
    }
    await sleep(200); // at most 0.2 s late on a 20 s sync, and a poll that barely loads the machine it measures
  }
}

/**
 * The SDK alone, in a fresh node process of its own (bench/sdk-listing.ts) like the worker: every EC2 scope listed with
 * the adapter's page size and the worker's concurrency, nothing kept. Answers its items, seconds and peak RSS.
 */
function sdkListing(emu: EmulatorInfo, nodeFlags: string[]): Promise<{ items: number; seconds: number; rssMb: number }> {
  const input = JSON.stringify({ endpoint: emu.aws, credentials: emu.credentials.aws, regions: REGIONS, page: PAGE, concurrency: SCOPE_CONCURRENCY });
  return new Promise((ok, fail) => {
    execFile(process.execPath, [...nodeFlags, join(ROOT, 'bench', 'sdk-listing.ts'), input], { cwd: ROOT, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return fail(new Error(`SDK listing failed: ${err.message}\n${stderr}`));
      if (stderr) progress(SUITE, stderr.trim());
      ok(JSON.parse(stdout));
    });
  });
}

/** The reference: set-based unnest upserts of `count` inventory-like rows into a scratch table, pages of 1,000. */
async function rawUpsert(databaseUrl: string, count: number): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`create table bench_raw_upsert (
      id uuid primary key, credential_id uuid not null, region text not null, kind text not null, external_id text not null,
      name text, type text not null, status text not null, metadata jsonb not null, tags jsonb not null, content_hash text not null,
      last_seen_at timestamptz not null, last_run_id uuid not null, deleted_at timestamptz)`);
    await client.query('create unique index on bench_raw_upsert (credential_id, region, kind, external_id)');
    const credentialId = crypto.randomUUID();
    const runId = crypto.randomUUID();
    const pages: unknown[][] = [];
    for (let start = 0; start < count; start += PAGE) {
      const n = Math.min(PAGE, count - start);
      const idx = Array.from({ length: n }, (_, k) => start + k);
      const region = (i: number) => REGIONS[i % REGIONS.length]!;
      pages.push([
        idx.map(() => crypto.randomUUID()),
        idx.map(region),
        idx.map((i) => `i-0${i.toString(16).padStart(16, '0')}`),
        idx.map((i) => `web-${i}`),
        idx.map((i) => (i % 10 === 0 ? 'stopped' : 'running')),
        idx.map((i) => JSON.stringify({ instanceType: ['t3.micro', 'm5.large', 'c5.xlarge'][i % 3], imageId: `ami-${i % 97}`, vpcId: `vpc-${i % 7}`,
          subnetId: `subnet-${i % 13}`, privateIpAddress: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, availabilityZone: `${region(i)}a`,
          launchTime: new Date(1_700_000_000_000 + i * 1000).toISOString(), architecture: 'x86_64', platform: 'Linux/UNIX' })),
        idx.map((i) => JSON.stringify({ Name: `web-${i}`, env: ['prod', 'staging', 'dev'][i % 3], team: `team-${i % 11}` })),
        idx.map((i) => hex(20) + i),
      ]);
    }
    const started = performance.now();
    for (const [ids, regions, externalIds, names, statuses, metadata, tags, hashes] of pages) {
      await client.query(
        `insert into bench_raw_upsert (id, credential_id, region, kind, external_id, name, type, status, metadata, tags, content_hash, last_seen_at, last_run_id)
         select id, $9, region, 'ec2:instance', external_id, name, 'vm', status, metadata, tags, content_hash, now(), $10
           from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[], $8::text[])
             as t(id, region, external_id, name, status, metadata, tags, content_hash)
         on conflict (credential_id, region, kind, external_id) do update set
           name = excluded.name, type = excluded.type, status = excluded.status, metadata = excluded.metadata, tags = excluded.tags,
           content_hash = excluded.content_hash, last_seen_at = excluded.last_seen_at, last_run_id = excluded.last_run_id, deleted_at = null`,
        [ids, regions, externalIds, names, statuses, metadata, tags, hashes, credentialId, runId],
      );
    }
    return count / ((performance.now() - started) / 1000);
  } finally {
    await client.query('drop table if exists bench_raw_upsert').catch(() => {});
    await client.end();
  }
}

export async function run(opts: Options): Promise<void> {
  const scope = new Scope();
  try {
    const perRegion = Math.max(1, Math.round(opts.instances! / REGIONS.length));
    const timeoutMs = opts.timeoutMinutes! * 60_000;
    progress(SUITE, `starting the emulator: ${perRegion} EC2 instances in each of ${REGIONS.length} regions`);
    const emu = await startEmulatorProcess(scope, [
      '--port', '0', '--seed', '7', '--aws-regions', REGIONS.join(','), '--aws-instances', String(perRegion),
      '--aws-volumes', String(SMALL.volumes), '--aws-vpcs', String(SMALL.vpcs), '--aws-subnets', String(SMALL.subnets),
      '--aws-security-groups', String(SMALL.securityGroups), '--aws-buckets', String(SMALL.buckets),
    ]);

    progress(SUITE, 'starting one api and one worker process on a fresh database');
    // One account alone: it may use every inventory slot, as the SDK listing it is compared with does.
    const env = await skyloftEnv(scope, 'inventory', { SKYLOFT_RATE_LIMIT: '100000', SKYLOFT_ACCOUNT_CONCURRENCY: `inventory=${SCOPE_CONCURRENCY}` });
    const { url } = await startSkyloft(scope, 'api', { ...env, SKYLOFT_ROLES: 'api' });
    const worker = await startSkyloft(scope, 'worker', { ...env, SKYLOFT_ROLES: 'worker', ...nodeOptionsEnv(scope, SUITE, 'worker', opts.cpuProfile, semiSpace(opts)) });
    const workerPid = serverPid(worker.pid);
    if (opts.debug) process.env.BENCH_DEBUG = env.DATABASE_URL;
    const call = api(url, await bootstrap(env));
    // The emulator generates pages lazily: one untimed pass first, so neither side pays its warm-up.
    progress(SUITE, 'warm-up: one untimed SDK listing of the fleet');
    await sdkListing(emu, semiSpace(opts));
    progress(SUITE, 'baseline: the SDK listing alone, in a process of its own');
    const sdk = await sdkListing(emu, semiSpace(opts));
    progress(SUITE, `  ${sdk.items} items in ${sdk.seconds.toFixed(2)} s, peak RSS ${sdk.rssMb.toFixed(0)} MB`);

    // Registering a credential schedules its sync, whose first run starts at once: that run is the first sync.
    progress(SUITE, `first sync through Skyloft (worker pid ${workerPid}, ${peakRssMb(workerPid).toFixed(0)} MB peak before)`);
    let rss = peakRssMb(workerPid);
    const firstStarted = performance.now();
    const created = await call('POST', '/v1/credentials', {
      name: `bench-aws-${hex()}`, provider: 'aws', region: 'us-east-1', regions: REGIONS,
      endpoints: { api: emu.aws },
      secret: { accessKeyId: emu.credentials.aws.accessKeyId, secretAccessKey: emu.credentials.aws.secretAccessKey },
    });
    if (created.status !== 201 && created.status !== 200) throw new Error(`credential: HTTP ${created.status} ${JSON.stringify(created.json)}`);
    const credentialId = created.json.id as string;

    const first = await syncOnce(call, credentialId, timeoutMs, () => (rss = Math.max(rss, peakRssMb(workerPid))), firstStarted);
    rss = Math.max(rss, peakRssMb(workerPid));
    const { items } = (await sql<{ items: number }>(env.DATABASE_URL!, 'select coalesce(sum(items), 0)::int as items from sync_scopes where run_id = $1', [first.run.id]))[0]!;
    const { stored } = (await sql<{ stored: number }>(env.DATABASE_URL!, 'select count(*)::int as stored from inventory_items where deleted_at is null'))[0]!;
    progress(SUITE, `  ${items} items (${stored} rows live) in ${first.seconds.toFixed(2)} s; added ${first.run.added}`);
    if (sdk.items > items) throw new Error(`the sync saw ${items} items, the SDK listing ${sdk.items}`);
    emit(SUITE, 'sync_items_per_s', items / first.seconds, 'items/s', { label: 'SDK listing only (same fleet, storing nothing)', value: sdk.items / sdk.seconds });
    emit(SUITE, 'worker_rss_mb', rss, 'MB', { label: 'peak RSS of the SDK listing alone, in a process of its own', value: sdk.rssMb });

    progress(SUITE, 'second sync, no change in the fleet');
    const second = await syncOnce(call, credentialId, timeoutMs, () => (rss = Math.max(rss, peakRssMb(workerPid))));
    progress(SUITE, `  ${second.seconds.toFixed(2)} s; added ${second.run.added}, updated ${second.run.updated}, deleted ${second.run.deleted}`);
    emit(SUITE, 'resync_seconds', second.seconds, 's', { label: 'first sync', value: first.seconds });

    progress(SUITE, `raw unnest upsert of ${items} rows`);
    emit(SUITE, 'raw_upsert_rows_per_s', await rawUpsert(env.DATABASE_URL!, items), 'rows/s');
  } finally {
    await scope.close();
  }
}
