import {
  api, bootstrap, emit, median, percentile, progress, sandboxCredential, Scope, skyloftEnv, sleep, sql, startSkyloft, type Options,
} from './support.ts';

/**
 * queue: `count` sandbox vm creates (distinct names) sent in one burst over HTTP at `concurrency` requests in flight,
 * to one api process (SKYLOFT_ROLES=api); two worker processes (SKYLOFT_ROLES=worker, SKYLOFT_WORKER_CONCURRENCY
 * jobs each, the product default 8) drain the queue. Reports the accept rate and latency of the 202s, and the time
 * from the first request until every operation has succeeded. Each sandbox operation is real terraform work
 * (init, plan, show -json, apply, output -json): that is the drain's real cost. The rate limit is raised so the burst
 * measures the API, not the limiter. Operations are counted straight from the database, so polling adds no HTTP load.
 * `--workers 0` measures the accept side alone (no terraform competing for the CPU) and skips the drain.
 */
const SUITE = 'queue';
export const defaults: Options = { count: 1000, concurrency: 50, workers: 2, workerConcurrency: 8, timeoutMinutes: 60 };

export async function run(opts: Options): Promise<void> {
  const scope = new Scope();
  try {
    const count = opts.count!;
    progress(SUITE, 'starting one api and the worker processes on a fresh database');
    // One account sends everything: its quotas and its fair share of the workers are not what this measures.
    const env = await skyloftEnv(scope, 'queue', {
      SKYLOFT_RATE_LIMIT: '100000',
      SKYLOFT_QUOTA_RESOURCES: 'unlimited',
      SKYLOFT_QUOTA_ACTIVE_OPERATIONS: 'unlimited',
      SKYLOFT_ACCOUNT_CONCURRENCY: `provisioning=${opts.workers! * opts.workerConcurrency!}`,
    });
    // The api first: it applies the migrations the others then find done.
    const { url } = await startSkyloft(scope, 'api', { ...env, SKYLOFT_ROLES: 'api' });
    const workerEnv = { ...env, SKYLOFT_ROLES: 'worker', SKYLOFT_WORKER_CONCURRENCY: String(opts.workerConcurrency) };
    await Promise.all(Array.from({ length: opts.workers! }, (_, i) => startSkyloft(scope, `worker-${i + 1}`, workerEnv)));
    const call = api(url, await bootstrap(env));
    const credentialId = await sandboxCredential(call);

    progress(SUITE, `burst: ${count} creates, ${opts.concurrency} in flight`);
    const latencies: number[] = [];
    const errors = new Map<number | string, number>();
    let next = 0;
    const started = performance.now();
    const sender = async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        const res = await call('POST', '/v1/resources', { name: `queue-${i}`, provider: 'sandbox', type: 'vm', region: 'local', credentialId, spec: {} })
          .catch((e: unknown) => ({ status: String((e as Error).cause ?? e), json: null }));
        if (res.status === 202) latencies.push(performance.now() - t0);
        else errors.set(res.status, (errors.get(res.status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency! }, sender));
    const burstSeconds = (performance.now() - started) / 1000;
    const accepted = latencies.length;
    progress(SUITE, `accepted ${accepted}/${count} in ${burstSeconds.toFixed(2)} s${errors.size ? `; refused: ${JSON.stringify([...errors])}` : ''}`);
    emit(SUITE, 'accept_rps', accepted / burstSeconds, 'req/s');
    emit(SUITE, 'accept_p50_ms', median(latencies), 'ms');
    emit(SUITE, 'accept_p99_ms', percentile(latencies, 99), 'ms');
    if (errors.size > 0) emit(SUITE, 'accept_errors', count - accepted, 'count');

    if (opts.workers === 0) {
      progress(SUITE, 'no workers: drain not measured');
      return;
    }
    const deadline = Date.now() + opts.timeoutMinutes! * 60_000;
    let lastReport = 0;
    for (;;) {
      const rows = await sql<{ status: string; n: number }>(env.DATABASE_URL!, 'select status, count(*)::int as n from operations group by status');
      const by = Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<string, number>;
      const finished = (by.succeeded ?? 0) + (by.failed ?? 0) + (by.canceled ?? 0);
      const elapsed = (performance.now() - started) / 1000;
      if (finished >= accepted) {
        if ((by.succeeded ?? 0) < accepted) {
          emit(SUITE, 'failed_operations', accepted - (by.succeeded ?? 0), 'count');
          throw new Error(`not every operation succeeded: ${JSON.stringify(by)}`);
        }
        progress(SUITE, `all ${accepted} operations succeeded after ${elapsed.toFixed(1)} s`);
        emit(SUITE, 'drain_seconds', elapsed, 's');
        emit(SUITE, 'drain_ops_per_s', accepted / elapsed, 'ops/s');
        return;
      }
      if (Date.now() > deadline) throw new Error(`still draining after ${opts.timeoutMinutes} min: ${JSON.stringify(by)}`);
      if (elapsed - lastReport >= 15) {
        lastReport = elapsed;
        progress(SUITE, `${elapsed.toFixed(0)} s: ${JSON.stringify(by)}`);
      }
      await sleep(250);
    }
  } finally {
    await scope.close();
  }
}
