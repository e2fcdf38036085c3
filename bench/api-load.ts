import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  api, bootstrap, nodeOptionsEnv, emit, hex, median, percentile, progress, REDIS_URL, ROOT, sandboxCredential, Scope, skyloftEnv, sleep, sql, startSkyloft,
  type Options,
} from './support.ts';

/**
 * api-load: closed-loop HTTP load at `connections` keep-alive connections (one loop per connection: send, wait for
 * the answer, send the next) against one Skyloft process running the api role only (SKYLOFT_ROLES=api: operations
 * stay queued, so terraform does not compete for the CPU), with the rate limit raised out of the way. The load
 * generator is node:http with one keep-alive Agent of `connections` sockets (undici is not a dependency of the
 * project; the same client drives every phase, so the ceilings and Skyloft's figures are measured alike). Phases,
 * in this order, all in one run:
 * 1. seed: `inventoryRows` inventory items (generate_series, the inventory-query suite's mix) and a month of cost
 *    (cost_keys, cost_data, cost_daily: `costServices` services x `costResources` resources, every day of last month);
 * 2. noop ceiling (`phaseSeconds`): the same load against a bare Fastify route that does nothing, in its own
 *    process (noop_rps);
 * 3. raw ceiling (`phaseSeconds`): `connections` concurrent loops of one INSERT into a scratch table (pg pool of 10,
 *    the api's own pool size) plus one BullMQ Queue.add to a scratch queue: the baseline of create_rps;
 * 4. creates only (`phaseSeconds`): POST /v1/resources at the same concurrency (create_rps; half of them carry an
 *    Idempotency-Key, every name unique);
 * 5. mixed (`seconds`, default 60): creates, resource and operation reads, resource lists, filtered inventory lists,
 *    last month's cost by service, and the queue counts, weighted by MIX; p50/p99 per route, 5xx and lost requests;
 * 6. verification: every 202 create has its resource (pending) and its operation (queued) in PostgreSQL, and its
 *    provisioning job in Redis.
 * `--cpu-profile 1` runs the api process under `node --cpu-prof` (NODE_OPTIONS) and keeps the .cpuprofile files in a
 * directory it names on stderr (open them in Chrome DevTools or speedscope).
 * A request is "lost" when it got no answer (connection error or no answer within 30 s). The suite fails (after
 * printing every figure) on any 5xx, lost request, or create not found in the database and the queue.
 */
const SUITE = 'api-load';
export const defaults: Options = {
  seconds: 60,
  connections: 64,
  phaseSeconds: 20,
  warmupSeconds: 3,
  inventoryRows: 100_000,
  costServices: 40,
  costResources: 25,
  cpuProfile: 0,
};

const REQUEST_TIMEOUT_MS = 30_000;
const MIX: [Route, number][] = [
  ['create', 30],
  ['get_resource', 15],
  ['get_operation', 15],
  ['list_resources', 10],
  ['inventory', 10],
  ['costs', 10],
  ['queues', 10],
];
type Route = 'create' | 'get_resource' | 'get_operation' | 'list_resources' | 'inventory' | 'costs' | 'queues';

interface Answer {
  status: number;
  body: string;
}

/** One HTTP request on the shared keep-alive agent; rejects on a connection error or after REQUEST_TIMEOUT_MS. */
function send(agent: http.Agent, base: URL, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((ok, fail) => {
    const req = http.request({
      agent, host: base.hostname, port: base.port, method, path,
      headers: { ...headers, ...(body !== undefined && { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', fail);
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', fail);
    req.end(body);
  });
}

/** What one phase counted: answers by status class, requests without an answer, latencies per route. */
class Tally {
  readonly latencies = new Map<string, number[]>();
  readonly statuses = new Map<string, number>();
  readonly errors = new Map<string, number>();
  ok = 0;
  fiveXx = 0;
  fourXx = 0;
  lost = 0;
  record(route: string, ms: number, status: number): void {
    if (!this.latencies.has(route)) this.latencies.set(route, []);
    this.latencies.get(route)!.push(ms);
    const key = `${route} ${status}`;
    this.statuses.set(key, (this.statuses.get(key) ?? 0) + 1);
    if (status >= 500) this.fiveXx++;
    else if (status >= 400) this.fourXx++;
    else this.ok++;
  }
  fail(route: string, e: unknown): void {
    this.lost++;
    const key = `${route}: ${(e as Error).message}`;
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }
  count(route: string): number {
    return this.latencies.get(route)?.length ?? 0;
  }
}

/** `connections` closed loops, each running `step` until `seconds` have passed; resolves with the wall time in s. */
async function closedLoops(connections: number, seconds: number, step: (loop: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(Array.from({ length: connections }, async (_, loop) => {
    while (performance.now() < until) await step(loop);
  }));
  return (performance.now() - started) / 1000;
}

/** A bare Fastify server with one route that does nothing, in its own process; resolves with its base URL. */
async function startNoop(scope: Scope): Promise<URL> {
  const script = `
    import Fastify from 'fastify';
    const app = Fastify({ logger: false });
    app.get('/noop', async () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    process.stdout.write(JSON.stringify({ port: app.server.address().port }) + '\\n');
    process.on('SIGTERM', () => app.close().then(() => process.exit(0)));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  scope.defer(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((ok) => child.once('exit', ok));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(5_000).then(() => child.kill('SIGKILL'))]);
  });
  const line = await new Promise<string>((ok, fail) => {
    createInterface({ input: child.stdout! }).once('line', ok);
    child.once('exit', (code) => fail(new Error(`the noop server exited (${code}) before listening`)));
  });
  return new URL(`http://127.0.0.1:${JSON.parse(line).port}`);
}

function emitLatencies(tally: Tally, routes: string[], suffix = ''): void {
  for (const route of routes) {
    const ms = tally.latencies.get(route) ?? [];
    if (ms.length === 0) continue;
    emit(SUITE, `p50_ms_${route}${suffix}`, median(ms), 'ms');
    emit(SUITE, `p99_ms_${route}${suffix}`, percentile(ms, 99), 'ms');
  }
}

const summary = (t: Tally) =>
  `${t.ok} 2xx, ${t.fourXx} 4xx, ${t.fiveXx} 5xx, ${t.lost} lost${t.fourXx + t.fiveXx > 0 ? ` ${JSON.stringify([...t.statuses].filter(([k]) => !/ 2\d\d$/.test(k)))}` : ''}${t.errors.size ? ` ${JSON.stringify([...t.errors])}` : ''}`;

export async function run(opts: Options): Promise<void> {
  const scope = new Scope();
  try {
    const connections = opts.connections!;
    const phaseSeconds = opts.phaseSeconds!;
    progress(SUITE, 'starting the api (SKYLOFT_ROLES=api) on a fresh database');
    // One account makes every create, and operations stay queued (no worker): its quotas are not what this measures.
    const env = await skyloftEnv(scope, 'api_load', { SKYLOFT_RATE_LIMIT: '100000000', SKYLOFT_QUOTA_RESOURCES: 'unlimited', SKYLOFT_QUOTA_ACTIVE_OPERATIONS: 'unlimited' });
    const db = env.DATABASE_URL!;
    const prefix = env.SKYLOFT_REDIS_PREFIX!;
    const skyloft = await startSkyloft(scope, 'api', { ...env, SKYLOFT_ROLES: 'api', ...nodeOptionsEnv(scope, SUITE, 'api', opts.cpuProfile) });
    const key = await bootstrap(env);
    const call = api(skyloft.url, key);
    const credentialId = await sandboxCredential(call);
    const accountId = (await sql<{ id: string }>(db, 'select account_id as id from credentials where id = $1', [credentialId]))[0]!.id;

    // 1. Seed what the read routes read.
    progress(SUITE, `seeding ${opts.inventoryRows} inventory rows and a month of cost (${opts.costServices} services x ${opts.costResources} resources)`);
    await seedInventory(db, accountId, credentialId, opts.inventoryRows!);
    const month = lastMonth();
    await seedCost(db, accountId, credentialId, month, opts.costServices!, opts.costResources!);
    await sql(db, 'vacuum analyze inventory_items');
    await sql(db, 'vacuum analyze cost_daily');
    await sql(db, 'vacuum analyze cost_data');

    const newAgent = () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
      scope.defer(() => agent.destroy());
      return agent;
    };
    let agent = newAgent();

    // 2. The no-op ceiling.
    const noop = await startNoop(scope);
    progress(SUITE, `noop ceiling: ${phaseSeconds} s at ${connections} connections`);
    const noopTally = new Tally();
    const noopSeconds = await closedLoops(connections, phaseSeconds, async () => {
      const t0 = performance.now();
      try {
        const res = await send(agent, noop, 'GET', '/noop', {});
        noopTally.record('noop', performance.now() - t0, res.status);
      } catch (e) {
        noopTally.fail('noop', e);
      }
    });
    const noopRps = noopTally.ok / noopSeconds;
    progress(SUITE, `  ${noopRps.toFixed(0)} req/s (${summary(noopTally)})`);
    agent.destroy();
    agent = newAgent();

    // 3. The raw ceiling: one INSERT plus one queue add per iteration.
    progress(SUITE, `raw ceiling: ${phaseSeconds} s of ${connections} loops of INSERT + Queue.add`);
    const rawRps = await rawLoop(scope, db, prefix, accountId, connections, phaseSeconds);
    progress(SUITE, `  ${rawRps.toFixed(0)} iterations/s`);

    const base = new URL(skyloft.url);
    const auth = { authorization: `Bearer ${key}` };
    const created: { resourceId: string; operationId: string }[] = [];
    const runTag = hex(3);
    let seq = 0;
    const create = async (tally: Tally, route = 'create') => {
      const i = seq++;
      const headers: Record<string, string> = { ...auth, ...(i % 2 === 0 && { 'idempotency-key': `load-${runTag}-${i}` }) };
      const body = JSON.stringify({ name: `load-${runTag}-${i}`, provider: 'sandbox', type: 'vm', region: 'local', credentialId, spec: { size: 'small', index: i } });
      const t0 = performance.now();
      try {
        const res = await send(agent, base, 'POST', '/v1/resources', headers, body);
        tally.record(route, performance.now() - t0, res.status);
        if (res.status === 202) {
          const { resource, operation } = JSON.parse(res.body);
          created.push({ resourceId: resource.id, operationId: operation.id });
        }
      } catch (e) {
        tally.fail(route, e);
      }
    };
    const get = async (tally: Tally, route: Route, path: string) => {
      const t0 = performance.now();
      try {
        const res = await send(agent, base, 'GET', path, auth);
        tally.record(route, performance.now() - t0, res.status);
      } catch (e) {
        tally.fail(route, e);
      }
    };
    const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
    const inventoryPaths = [
      '/v1/inventory?provider=aws&type=vm&status=running&limit=50',
      '/v1/inventory?provider=azure&type=storage&limit=50',
      `/v1/inventory?credentialId=${credentialId}&region=us-east-1&limit=50`,
      '/v1/inventory?managed=false&type=network&limit=50',
    ];
    const costPath = `/v1/costs?from=${month.from}&to=${month.to}&groupBy=service`;
    const totalWeight = MIX.reduce((s, [, w]) => s + w, 0);
    const mixed = (tally: Tally) => async () => {
      let r = Math.random() * totalWeight;
      const route = MIX.find(([, w]) => (r -= w) < 0)?.[0] ?? 'create';
      if (route === 'create' || created.length === 0) return create(tally);
      if (route === 'get_resource') return get(tally, route, `/v1/resources/${pick(created).resourceId}`);
      if (route === 'get_operation') return get(tally, route, `/v1/operations/${pick(created).operationId}`);
      if (route === 'list_resources') return get(tally, route, '/v1/resources?limit=50');
      if (route === 'inventory') return get(tally, route, pick(inventoryPaths));
      if (route === 'costs') return get(tally, route, costPath);
      return get(tally, route, '/v1/queues');
    };

    // Warm-up (untimed): every route once per connection at least, so the JIT and the pools are warm.
    progress(SUITE, `warm-up: ${opts.warmupSeconds} s of mixed traffic`);
    const warm = new Tally();
    await closedLoops(connections, opts.warmupSeconds!, mixed(warm));
    progress(SUITE, `  ${summary(warm)}`);

    // 4. Creates only, comparable with the raw loop.
    progress(SUITE, `creates only: ${phaseSeconds} s at ${connections} connections`);
    const createTally = new Tally();
    const createSeconds = await closedLoops(connections, phaseSeconds, () => create(createTally));
    const createRps = createTally.ok / createSeconds;
    progress(SUITE, `  ${createRps.toFixed(0)} creates/s (${summary(createTally)})`);

    // 5. Mixed traffic.
    progress(SUITE, `mixed: ${opts.seconds} s at ${connections} connections, mix ${JSON.stringify(Object.fromEntries(MIX))}`);
    const mix = new Tally();
    const mixSeconds = await closedLoops(connections, opts.seconds!, mixed(mix));
    progress(SUITE, `  ${((mix.ok + mix.fourXx + mix.fiveXx) / mixSeconds).toFixed(0)} req/s (${summary(mix)})`);
    for (const [route] of MIX) {
      const ms = mix.latencies.get(route) ?? [];
      if (ms.length) progress(SUITE, `  ${route.padEnd(15)} ${String(ms.length).padStart(7)} req  p50 ${median(ms).toFixed(1)} ms  p99 ${percentile(ms, 99).toFixed(1)} ms  max ${Math.max(...ms).toFixed(1)} ms`);
    }

    // 6. Nothing lost: each 202 create has its resource, its queued operation and its provisioning job.
    progress(SUITE, `verifying ${created.length} accepted creates in PostgreSQL and Redis`);
    const missing = await verifyCreates(db, prefix, created);
    progress(SUITE, `  ${missing === 0 ? 'all found' : `${missing} MISSING`}`);

    const all = [warm, createTally, mix];
    const fiveXx = all.reduce((s, t) => s + t.fiveXx, 0);
    const lost = all.reduce((s, t) => s + t.lost, 0);
    const fourXx = all.reduce((s, t) => s + t.fourXx, 0);
    emit(SUITE, 'create_rps', createRps, 'req/s', { label: 'a raw loop of one INSERT plus one queue add, at the same concurrency', value: rawRps });
    emit(SUITE, 'noop_rps', noopRps, 'req/s');
    emit(SUITE, 'mixed_rps', (mix.ok + mix.fourXx + mix.fiveXx) / mixSeconds, 'req/s', { label: 'a bare Fastify route that does nothing, same load', value: noopRps });
    emit(SUITE, 'mixed_create_rps', (mix.statuses.get('create 202') ?? 0) / mixSeconds, 'req/s');
    emit(SUITE, 'http_5xx', fiveXx, 'count');
    emit(SUITE, 'http_4xx', fourXx, 'count');
    emit(SUITE, 'lost_requests', lost, 'count');
    emit(SUITE, 'lost_creates', missing, 'count');
    emitLatencies(createTally, ['create'], '_only');
    emitLatencies(mix, MIX.map(([r]) => r));

    const problems = [
      fiveXx > 0 && `${fiveXx} answers were 5xx`,
      lost > 0 && `${lost} requests got no answer`,
      fourXx > 0 && `${fourXx} answers were 4xx (none expected)`,
      missing > 0 && `${missing} accepted creates are missing their resource, operation or job`,
    ].filter(Boolean);
    if (problems.length > 0) throw new Error(problems.join('; '));
  } finally {
    await scope.close();
  }
}

/** The first and the last-plus-one day of last month (YYYY-MM-DD), a complete month whatever today is. */
function lastMonth(): { from: string; to: string } {
  const now = new Date();
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return { from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10) };
}

async function seedInventory(db: string, accountId: string, credentialId: string, rows: number): Promise<void> {
  await sql(db, `
    insert into inventory_items (id, account_id, credential_id, provider, type, kind, region, external_id, name, status,
                                 metadata, tags, content_hash, managed_resource_id, first_seen_at, last_seen_at, last_run_id, deleted_at)
    select gen_random_uuid(), $1, $2, p.provider, t.type, p.provider || ':' || t.type, p.regions[1 + g % array_length(p.regions, 1)],
           p.provider || '-' || t.type || '-' || g, 'item-' || g, s.status,
           jsonb_build_object('instanceType', (array['t3.micro','m5.large','Standard_D2s_v3','e2-medium'])[1 + g % 4], 'privateIp', '10.0.' || (g % 250) || '.' || (g % 7)),
           jsonb_build_object('Name', 'item-' || g, 'env', (array['prod','staging','dev'])[1 + g % 3]),
           md5(g::text), case when g % 7 = 0 then gen_random_uuid() end,
           now() - interval '30 days', now() - make_interval(secs => g % 3600), $3::uuid,
           case when g % 10 = 3 then now() - interval '1 day' end
      from generate_series(1, $4::int) g
      cross join lateral (select case when g % 20 < 10 then 'aws' when g % 20 < 15 then 'azure' when g % 20 < 19 then 'gcp' else 'sandbox' end as provider) p0
      cross join lateral (select p0.provider, case p0.provider
                                    when 'aws' then array['us-east-1','us-west-2','eu-west-1']
                                    when 'azure' then array['eastus','westeurope']
                                    when 'gcp' then array['us-central1','europe-west1']
                                    else array['local'] end as regions) p
      cross join lateral (select (array['vm','vm','storage','storage','network'])[1 + (g / 20) % 5] as type) t
      cross join lateral (select case t.type
                                    when 'vm' then (array['running','running','running','stopped','terminated'])[1 + (g / 100) % 5]
                                    when 'storage' then 'available' else 'available' end as status) s`,
  [accountId, credentialId, randomUUID(), rows]);
}

/** Every day of `month`: services x resources cost lines (cost_keys, cost_data) and their per-service totals (cost_daily). */
async function seedCost(db: string, accountId: string, credentialId: string, month: { from: string; to: string }, services: number, resources: number): Promise<void> {
  await sql(db, `
    insert into cost_keys (credential_id, billing_account, service, resource_id, currency)
    select $1, 'bench-billing', 'Service ' || s, case when r = 0 then '' else 'res-' || s || '-' || r end, 'USD'
      from generate_series(1, $2::int) s, generate_series(0, $3::int) r`, [credentialId, services, resources]);
  await sql(db, `
    insert into cost_data (credential_id, usage_date, key_id, amount)
    select $1, d::date, k.id, round((random() * 10)::numeric, 6)
      from cost_keys k, generate_series($2::date, $3::date - 1, interval '1 day') d
     where k.credential_id = $1`, [credentialId, month.from, month.to]);
  await sql(db, `
    insert into cost_daily (account_id, credential_id, provider, usage_date, billing_period, service, currency, amount)
    select $1, c.credential_id, 'sandbox', c.usage_date, to_char(c.usage_date, 'YYYY-MM'), k.service, k.currency, sum(c.amount)
      from cost_data c join cost_keys k on k.id = c.key_id
     where c.credential_id = $2
     group by c.credential_id, c.usage_date, k.service, k.currency`, [accountId, credentialId]);
}

/** `connections` loops of one INSERT (a resource-sized row) plus one BullMQ add, for `seconds`; iterations per second. */
async function rawLoop(scope: Scope, db: string, prefix: string, accountId: string, connections: number, seconds: number): Promise<number> {
  await sql(db, `create table bench_scratch (id uuid primary key, account_id text not null, name text not null, spec jsonb not null,
                                             status text not null, created_at timestamptz not null default now())`);
  scope.defer(() => sql(db, 'drop table if exists bench_scratch'));
  const pool = new pg.Pool({ connectionString: db, max: 10 });
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  // Under the suite's prefix: deleted with it when the scope closes.
  const queue = new Queue('bench-scratch', { connection: redis, prefix });
  let done = 0;
  let i = 0;
  try {
    const elapsed = await closedLoops(connections, seconds, async () => {
      const id = randomUUID();
      const n = i++;
      await pool.query('insert into bench_scratch (id, account_id, name, spec, status) values ($1, $2, $3, $4, $5)',
        [id, accountId, `raw-${n}`, JSON.stringify({ size: 'small', index: n }), 'pending']);
      const operationId = randomUUID();
      await queue.add('provision', { operationId, resourceId: id, phase: 'plan' },
        { jobId: `${id}_${operationId}_plan`, attempts: 3, removeOnComplete: { count: 1000 }, removeOnFail: { count: 5000 } });
      done++;
    });
    return done / elapsed;
  } finally {
    // Free the connections before Skyloft is measured.
    await queue.close();
    redis.disconnect();
    await pool.end();
  }
}

/** How many accepted creates lack their pending resource, their queued operation or their provisioning job. */
async function verifyCreates(db: string, prefix: string, created: { resourceId: string; operationId: string }[]): Promise<number> {
  const client = new pg.Client({ connectionString: db });
  await client.connect();
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  let missing = 0;
  try {
    for (let i = 0; i < created.length; i += 2_000) {
      const chunk = created.slice(i, i + 2_000);
      const { rows } = await client.query<{ resource_id: string }>(`
        select c.resource_id
          from unnest($1::uuid[], $2::uuid[]) as c(resource_id, operation_id)
          join resources r on r.id = c.resource_id and r.status = 'pending'
          join operations o on o.id = c.operation_id and o.resource_id = c.resource_id and o.status = 'queued' and o.kind = 'apply'`,
      [chunk.map((c) => c.resourceId), chunk.map((c) => c.operationId)]);
      const inDb = new Set(rows.map((r) => r.resource_id));
      const pipeline = redis.pipeline();
      for (const c of chunk) pipeline.exists(`${prefix}:provisioning:${c.resourceId}_${c.operationId}_plan`);
      const replies = (await pipeline.exec()) ?? [];
      missing += chunk.filter((c, j) => !inDb.has(c.resourceId) || replies[j]?.[0] || replies[j]?.[1] !== 1).length;
    }
  } finally {
    await client.end();
    redis.disconnect();
  }
  return missing;
}
