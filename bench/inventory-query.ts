import {
  api, bootstrap, emit, median, percentile, progress, sandboxCredential, Scope, skyloftEnv, sql, startSkyloft, type Api, type Options,
} from './support.ts';

/**
 * inventory-query: `rows` inventory items of one account (default 1,000,000) inserted set-based (generate_series)
 * into a fresh database migrated by the api process (SKYLOFT_ROLES=api), with a realistic mix: providers aws 50%,
 * azure 25%, gcp 20%, sandbox 5%; types vm/storage/network; several statuses and regions; 10% tombstoned; 15%
 * tagged as managed. Then `requests` sequential GET /v1/inventory after `warmup` untimed ones, per query shape:
 * - filtered first page: ?provider=aws&type=vm&status=running&limit=50  -> list_p99_ms, list_p50_ms
 * - the same filter, a cursor page further down                           -> list_cursor_p99_ms, list_cursor_p50_ms
 * - unfiltered first page: ?limit=50                                       -> list_unfiltered_p99_ms
 * Then prints EXPLAIN (ANALYZE, BUFFERS) of listInventory's query for the filtered shapes on stderr.
 */
const SUITE = 'inventory-query';
export const defaults: Options = { rows: 1_000_000, requests: 500, warmup: 50, explain: 1 };

async function timed(call: Api, path: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await call('GET', path);
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status} ${JSON.stringify(res.json)}`);
    out.push(ms);
  }
  return out;
}

/** The query listInventory (src/modules/inventory/queries.ts) sends, for EXPLAIN. */
const LIST_SQL = (extra: string) => `
  select i.id, i.provider, i.external_id, i.name, i.type, i.kind, i.region, i.status, i.metadata, i.tags,
         i.first_seen_at, i.last_seen_at, i.deleted_at, i.credential_id,
         case when r.status not in ('destroyed', 'forgotten') then r.id end as resource_id,
         case when i.managed_resource_id is null or r.status = 'forgotten' then 'unmanaged'
              when r.id is not null and r.status <> 'destroyed' then 'managed' else 'orphaned' end as classification
    from inventory_items i
    left join resources r on r.id = i.managed_resource_id and r.account_id = i.account_id
   where i.account_id = $1 and i.deleted_at is null
     and i.credential_id = any(array(select c.id from credentials c where c.account_id = $1 and c.deleted_at is null)) ${extra}
   order by i.id desc limit 51`;

export async function run(opts: Options): Promise<void> {
  const scope = new Scope();
  try {
    const total = opts.rows!;
    progress(SUITE, 'starting the api on a fresh database');
    const env = await skyloftEnv(scope, 'inventory_query', { SKYLOFT_RATE_LIMIT: '1000000' });
    const { url } = await startSkyloft(scope, 'api', { ...env, SKYLOFT_ROLES: 'api' });
    const call = api(url, await bootstrap(env));
    const credentialId = await sandboxCredential(call);
    const accountId = (await sql<{ id: string }>(env.DATABASE_URL!, 'select account_id as id from credentials where id = $1', [credentialId]))[0]!.id;

    progress(SUITE, `inserting ${total} inventory rows (generate_series)`);
    const t0 = performance.now();
    await sql(env.DATABASE_URL!, `
      insert into inventory_items (id, account_id, credential_id, provider, type, kind, region, external_id, name, status,
                                   metadata, tags, content_hash, managed_resource_id, first_seen_at, last_seen_at, last_run_id, deleted_at)
      select gen_random_uuid(), $1, $2, p.provider, t.type,
             p.provider || ':' || t.type, p.regions[1 + g % array_length(p.regions, 1)], p.provider || '-' || t.type || '-' || g,
             'item-' || g, s.status,
             jsonb_build_object('instanceType', (array['t3.micro','m5.large','c5.xlarge','Standard_D2s_v3','e2-medium'])[1 + g % 5],
                                'zone', p.regions[1 + g % array_length(p.regions, 1)] || 'a', 'privateIp', '10.' || (g % 250) || '.' || (g / 250 % 250) || '.' || (g % 7),
                                'launchTime', to_char(now() - make_interval(mins => g % 500000), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
             jsonb_build_object('Name', 'item-' || g, 'env', (array['prod','staging','dev'])[1 + g % 3], 'team', 'team-' || (g % 17)),
             md5(g::text), case when g % 7 = 0 then gen_random_uuid() end,
             now() - interval '30 days', now() - make_interval(secs => g % 3600), $3::uuid,
             case when g % 10 = 3 then now() - interval '1 day' end
        from generate_series(1, $4::int) g
        cross join lateral (select case when g % 20 < 10 then 'aws' when g % 20 < 15 then 'azure' when g % 20 < 19 then 'gcp' else 'sandbox' end as provider) p0
        cross join lateral (select p0.provider, case p0.provider
                                      when 'aws' then array['us-east-1','us-west-2','eu-west-1','ap-southeast-2']
                                      when 'azure' then array['eastus','westeurope','southeastasia']
                                      when 'gcp' then array['us-central1','europe-west1','asia-east1']
                                      else array['local'] end as regions) p
        cross join lateral (select (array['vm','vm','storage','storage','network'])[1 + (g / 20) % 5] as type) t
        cross join lateral (select case t.type
                                      when 'vm' then (array['running','running','running','stopped','terminated'])[1 + (g / 100) % 5]
                                      when 'storage' then (array['available','in-use','in-use'])[1 + (g / 100) % 3]
                                      else 'available' end as status) s`,
      [accountId, credentialId, crypto.randomUUID(), total]);
    await sql(env.DATABASE_URL!, 'vacuum analyze inventory_items');
    const { live, n } = (await sql<{ live: number; n: number }>(env.DATABASE_URL!,
      `select count(*) filter (where deleted_at is null)::int as live, count(*) filter (where deleted_at is null and provider = 'aws' and type = 'vm' and status = 'running')::int as n from inventory_items`))[0]!;
    progress(SUITE, `  ${total} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s (${live} live, ${n} match aws/vm/running)`);

    const filtered = '/v1/inventory?provider=aws&type=vm&status=running&limit=50';
    // A cursor page well inside the result: follow the cursor 20 pages down once, then request that page repeatedly.
    let cursor: string | null = null;
    for (let i = 0; i < 20; i++) cursor = (await call('GET', `${filtered}${cursor ? `&cursor=${cursor}` : ''}`)).json.nextCursor;
    if (!cursor) throw new Error('no cursor 20 pages down the filtered listing');
    const shapes = [
      { name: 'list', path: filtered },
      { name: 'list_cursor', path: `${filtered}&cursor=${cursor}` },
      { name: 'list_unfiltered', path: '/v1/inventory?limit=50' },
    ];
    for (const s of shapes) {
      await timed(call, s.path, opts.warmup!);
      const ms = await timed(call, s.path, opts.requests!);
      progress(SUITE, `${s.path}: p50 ${median(ms).toFixed(2)} ms, p99 ${percentile(ms, 99).toFixed(2)} ms, max ${Math.max(...ms).toFixed(2)} ms`);
      emit(SUITE, `${s.name}_p99_ms`, percentile(ms, 99), 'ms');
      emit(SUITE, `${s.name}_p50_ms`, median(ms), 'ms');
    }

    if (opts.explain) {
      const decoded = Buffer.from(cursor, 'base64url').toString();
      const cursorId = /[0-9a-f-]{36}/.exec(decoded)?.[0];
      const plans: [string, string, unknown[]][] = [
        ['filtered first page', `and i.provider = $2 and i.type = $3 and i.status = $4`, [accountId, 'aws', 'vm', 'running']],
        ...(cursorId ? [['filtered cursor page', `and i.provider = $2 and i.type = $3 and i.status = $4 and i.id < $5`, [accountId, 'aws', 'vm', 'running', cursorId]] as [string, string, unknown[]]] : []),
      ];
      for (const [label, extra, params] of plans) {
        const rows = await sql<{ 'QUERY PLAN': string }>(env.DATABASE_URL!, `explain (analyze, buffers) ${LIST_SQL(extra)}`, params);
        progress(SUITE, `EXPLAIN ANALYZE, ${label}:\n${rows.map((r) => `    ${r['QUERY PLAN']}`).join('\n')}`);
      }
    }
  } finally {
    await scope.close();
  }
}
