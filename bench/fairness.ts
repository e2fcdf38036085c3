import { readdirSync, readFileSync } from 'node:fs';
import {
  api, bootstrap, emit, median, progress, sandboxCredential, Scope, skyloftEnv, sleep, sql, startSkyloft, type Api, type Options,
} from './support.ts';

/**
 * fairness: how long another account's one-second sandbox create takes (POST to `succeeded`, polled every POLL_MS)
 * while one account has `count` creates of `seconds` seconds each queued and running, against the same create on an
 * idle installation (the baseline). One `npm start` (all roles) with the product's defaults unless
 * `--worker-concurrency` or `--account-cap` (the provisioning cap per account) set them. The first idle create is an
 * unmeasured warm-up (cdktf loads on the first synthesis).
 *
 * Memory, sampled every SAMPLE_MS from /proc while the load runs: the Skyloft process's RSS (`worker_rss_mb`, peak),
 * what it grew by per running create over the idle figure (`worker_rss_mb_per_run`: synthesis, terraform's output,
 * leases), and the terraform processes' own RSS per running create (`terraform_rss_mb_per_run`: terraform with the
 * sandbox's built-in resource; a cloud provider's plugin process adds its own, typically a few hundred MB).
 */
const SUITE = 'fairness';
const POLL_MS = 100;
const SAMPLE_MS = 250;
export const defaults: Options = { count: 24, seconds: 60, runs: 3, workerConcurrency: 0, accountCap: 0 };

const PAGE_KB = 4;

/** Every process under `root` (not `root` itself) with its RSS in MB, from /proc. */
function descendants(root: number): { pid: number; rssMb: number }[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone while reading
    }
  }
  const out: { pid: number; rssMb: number }[] = [];
  const walk = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      try {
        out.push({ pid: child, rssMb: (Number(readFileSync(`/proc/${child}/statm`, 'utf8').split(' ')[1]) * PAGE_KB) / 1024 });
      } catch {
        // gone while reading
      }
      walk(child);
    }
  };
  walk(root);
  return out;
}

/** POST a sandbox vm and poll it to `succeeded`: the client-side milliseconds. */
async function timedCreate(call: Api, credentialId: string, name: string, seconds: number, timeoutMs: number): Promise<number> {
  const started = performance.now();
  const res = await call('POST', '/v1/resources', { name, provider: 'sandbox', type: 'vm', region: 'local', credentialId, spec: { provisionSeconds: seconds } });
  if (res.status !== 202) throw new Error(`POST /v1/resources: HTTP ${res.status} ${JSON.stringify(res.json)}`);
  for (;;) {
    const op = (await call('GET', `/v1/operations/${res.json.operation.id}`)).json;
    if (op.status === 'succeeded') return performance.now() - started;
    if (['failed', 'canceled'].includes(op.status)) throw new Error(`operation ${op.id} ${op.status}: ${op.error}`);
    if (performance.now() - started > timeoutMs) throw new Error(`operation ${op.id} still ${op.status} after ${timeoutMs} ms`);
    await sleep(POLL_MS);
  }
}

export async function run(opts: Options): Promise<void> {
  const scope = new Scope();
  try {
    const extra: Record<string, string> = {};
    if (opts.workerConcurrency) extra.SKYLOFT_WORKER_CONCURRENCY = String(opts.workerConcurrency);
    if (opts.accountCap) extra.SKYLOFT_ACCOUNT_CONCURRENCY = `provisioning=${opts.accountCap}`;
    progress(SUITE, `starting Skyloft (all roles) on a fresh database${Object.keys(extra).length ? ` with ${JSON.stringify(extra)}` : ', default settings'}`);
    const env = await skyloftEnv(scope, 'fairness', extra);
    const { url, pid } = await startSkyloft(scope, 'skyloft', env);
    const [noisyKey, quietKey] = [await bootstrap(env), await bootstrap(env)];
    const noisy = api(url, noisyKey);
    const quiet = api(url, quietKey);
    const [noisyCred, quietCred] = [await sandboxCredential(noisy), await sandboxCredential(quiet)];
    const noisyAccount: string = (await noisy('GET', '/v1/me')).json.account.id;
    const main = descendants(pid).find((p) => readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').includes('src/main.ts'));
    if (!main) throw new Error('the Skyloft node process was not found under npm');

    const idle: number[] = [];
    for (let i = 0; i <= opts.runs!; i++) {
      const ms = await timedCreate(quiet, quietCred, `idle-${i}`, 1, 120_000);
      progress(SUITE, `${i === 0 ? 'warm-up' : `idle ${i}/${opts.runs}`}: ${ms.toFixed(0)} ms`);
      if (i > 0) idle.push(ms);
    }
    const idleRss = descendants(pid).find((p) => p.pid === main.pid)!.rssMb;

    progress(SUITE, `one account queues ${opts.count} creates of ${opts.seconds} s`);
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < opts.count!) {
        const i = next++;
        const res = await noisy('POST', '/v1/resources', { name: `noisy-${i}`, provider: 'sandbox', type: 'vm', region: 'local', credentialId: noisyCred, spec: { provisionSeconds: opts.seconds } });
        if (res.status !== 202) throw new Error(`noisy create ${i}: HTTP ${res.status} ${JSON.stringify(res.json)}`);
      }
    }));
    const running = async () => Number((await sql<{ n: number }>(env.DATABASE_URL!, "select count(*)::int as n from operations where account_id = $1 and status = 'running'", [noisyAccount]))[0]!.n);
    for (const deadline = Date.now() + 60_000; (await running()) === 0; await sleep(200)) {
      if (Date.now() > deadline) throw new Error('the noisy account\'s creates never started');
    }
    await sleep(2_000); // the workers take whatever else they would take
    const noisyRunning = await running();

    let peakWorker = idleRss;
    let peakTerraform = 0;
    const sampler = setInterval(() => {
      const all = descendants(pid);
      peakWorker = Math.max(peakWorker, all.find((p) => p.pid === main.pid)?.rssMb ?? 0);
      peakTerraform = Math.max(peakTerraform, all.filter((p) => p.pid !== main.pid).reduce((sum, p) => sum + p.rssMb, 0));
    }, SAMPLE_MS);
    const loaded: number[] = [];
    try {
      for (let i = 1; i <= opts.runs!; i++) {
        const ms = await timedCreate(quiet, quietCred, `loaded-${i}`, 1, (opts.seconds! * (opts.count! + 2)) * 1000);
        progress(SUITE, `under load ${i}/${opts.runs} (the other account runs ${await running()}): ${ms.toFixed(0)} ms`);
        loaded.push(ms);
      }
    } finally {
      clearInterval(sampler);
    }

    emit(SUITE, 'other_account_create_ms', median(loaded), 'ms (median)', { label: 'the same one-second create on an idle installation', value: median(idle) });
    emit(SUITE, 'other_account_create_max_ms', Math.max(...loaded), 'ms');
    emit(SUITE, 'noisy_account_running', noisyRunning, 'creates');
    emit(SUITE, 'worker_rss_mb', peakWorker, 'MB');
    emit(SUITE, 'worker_rss_mb_per_run', (peakWorker - idleRss) / Math.max(1, noisyRunning + 1), 'MB');
    emit(SUITE, 'terraform_rss_mb_per_run', peakTerraform / Math.max(1, noisyRunning + 1), 'MB');

    progress(SUITE, 'canceling the noisy account\'s creates');
    const open = await sql<{ id: string }>(env.DATABASE_URL!, "select id from operations where account_id = $1 and status in ('queued', 'running')", [noisyAccount]);
    await Promise.all(open.map((o) => noisy('POST', `/v1/operations/${o.id}/cancel`)));
    for (const deadline = Date.now() + 30_000; (await running()) > 0 && Date.now() < deadline;) await sleep(250);
  } finally {
    await scope.close();
  }
}
