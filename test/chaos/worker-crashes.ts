import { readdirSync, readlinkSync } from 'node:fs';
import { api, bootstrap, sandboxCredential, sleep, skyloftEnv, sql, startSkyloft, type Api, type Scope } from '../../bench/support.ts';

/**
 * Worker crashes under load (issue "Proof under fire"): sandbox operations (creates, then an update or a destroy of
 * each created resource) run on several worker processes while one of them, picked at random, is SIGKILLed at random
 * moments and replaced. Afterwards every invariant is checked from PostgreSQL and the API:
 * - every operation ended succeeded, or failed with a reason (none left queued or running, none canceled);
 * - no resource was applied twice for one operation: every state version of a resource holds the same single
 *   terraform_data object (a second create would show a new object id);
 * - each resource's state versions are strictly increasing (version and serial together) and in time order;
 * - no lock is left held, and no provisioning job is left in the queue.
 * `npm run chaos` runs the full size; test/e2e/worker-chaos.test.ts a small one inside `npm test`.
 */
export interface ChaosOptions {
  /** Operations in all: half creates, half follow-ups (update or destroy) of the created resources. */
  operations: number;
  kills: number;
  workers: number;
  /** Kills come at random moments, between these gaps after the replacement of the previous victim is ready. */
  minGapMs: number;
  maxGapMs: number;
  seed: number;
  /** Give up waiting for the operations after this long (a violation: an operation never ended). */
  timeoutMs: number;
}

export interface ChaosReport {
  operations: number;
  kills: number;
  seconds: number;
  byStatus: Record<string, number>;
  attempts: { max: number; retried: number };
  failures: string[];
  stateVersions: number;
  violations: string[];
}

interface OperationRow {
  id: string;
  resource_id: string;
  kind: string;
  status: string;
  error: string | null;
  attempts: number;
}

const FINISHED = new Set(['succeeded', 'failed', 'canceled']);

export async function runWorkerCrashes(scope: Scope, opts: ChaosOptions, say: (msg: string) => void): Promise<ChaosReport> {
  const random = mulberry32(opts.seed);
  const tmp = scope.tmpdir(); // the workers' TMPDIR: their terraform work directories, and how orphans are found
  scope.defer(() => killProcessesUnder(tmp));
  // One account submits every operation: its quota of unfinished ones is not what this tests. Two at a time per
  // worker (the default was 2 before it became 8), so the operations outlast the kills.
  const env = await skyloftEnv(scope, 'chaos', { SKYLOFT_RATE_LIMIT: '100000', SKYLOFT_QUOTA_RESOURCES: 'unlimited', SKYLOFT_QUOTA_ACTIVE_OPERATIONS: 'unlimited', SKYLOFT_WORKER_CONCURRENCY: '2', TMPDIR: tmp });
  const started = Date.now();
  const { url } = await startSkyloft(scope, 'api', { ...env, SKYLOFT_ROLES: 'api,scheduler' });
  let workerCount = 0;
  const startWorker = () => startSkyloft(scope, `worker-${++workerCount}`, { ...env, SKYLOFT_ROLES: 'worker' });
  const workers = await Promise.all(Array.from({ length: opts.workers }, startWorker));
  const call = api(url, await bootstrap(env));
  const credentialId = await sandboxCredential(call);
  say(`api and ${opts.workers} workers ready; ${opts.operations} operations, ${opts.kills} kills (seed ${opts.seed})`);

  const creates = Math.ceil(opts.operations / 2);
  const followUps = opts.operations - creates;
  const submitted: string[] = [];
  const followedUp = new Set<string>();
  const submit = async (method: string, path: string, body?: unknown) => {
    const res = await call(method, path, body);
    if (res.status !== 202) throw new Error(`${method} ${path}: HTTP ${res.status} ${JSON.stringify(res.json)}`);
    submitted.push(res.json.operation.id);
  };
  for (let i = 0; i < creates; i++) {
    // Some creates take a second or two, like a cloud resource, so that kills also land mid-apply.
    const spec = { index: i, ...(random() < 0.3 && { provisionSeconds: 1 + Math.floor(random() * 2) }) };
    await submit('POST', '/v1/resources', { name: `chaos-${i}`, provider: 'sandbox', type: 'vm', region: 'local', credentialId, spec });
  }

  let kills = 0;
  let done = false;
  const killer = (async () => {
    while (kills < opts.kills && !done) {
      await sleep(opts.minGapMs + random() * (opts.maxGapMs - opts.minGapMs));
      if (done) break;
      const victim = Math.floor(random() * workers.length);
      try {
        process.kill(-workers[victim]!.pid, 'SIGKILL'); // npm, sh and Skyloft; terraform runs in a group of its own
      } catch {
        // already gone
      }
      kills++;
      say(`kill ${kills}/${opts.kills}: worker pid ${workers[victim]!.pid}`);
      workers[victim] = await startWorker();
    }
  })();

  let ops: OperationRow[] = [];
  for (const deadline = Date.now() + opts.timeoutMs; ; await sleep(500)) {
    ops = await sql<OperationRow>(env.DATABASE_URL!, 'select id, resource_id, kind, status, error, attempts from operations');
    // Each finished create gets its follow-up: an update for even-numbered resources, a destroy for the others.
    for (const op of ops) {
      if (op.kind !== 'apply' || op.status !== 'succeeded' || followedUp.has(op.resource_id) || followedUp.size >= followUps) continue;
      followedUp.add(op.resource_id);
      if (followedUp.size % 2 === 0) await submit('PATCH', `/v1/resources/${op.resource_id}`, { spec: { updated: true } });
      else await submit('DELETE', `/v1/resources/${op.resource_id}`);
    }
    const creating = ops.some((op) => op.kind === 'apply' && !FINISHED.has(op.status));
    const allFinished = ops.length === submitted.length && ops.every((op) => FINISHED.has(op.status));
    if (allFinished && (followedUp.size >= followUps || !creating)) break;
    if (Date.now() > deadline) break;
  }
  done = true;
  await killer;

  const violations = await checkInvariants(env.DATABASE_URL!, call, ops, submitted);
  if (kills < opts.kills) violations.push(`only ${kills} of ${opts.kills} kills happened before the operations finished`);
  const byStatus: Record<string, number> = {};
  for (const op of ops) byStatus[op.status] = (byStatus[op.status] ?? 0) + 1;
  const [versions] = await sql<{ n: string }>(env.DATABASE_URL!, 'select count(*) as n from state_versions');
  return {
    operations: ops.length,
    kills,
    seconds: Math.round((Date.now() - started) / 1000),
    byStatus,
    attempts: { max: Math.max(0, ...ops.map((op) => op.attempts)), retried: ops.filter((op) => op.attempts > 1).length },
    failures: ops.filter((op) => op.status === 'failed').map((op) => `${op.kind} ${op.id}: ${op.error}`),
    stateVersions: Number(versions!.n),
    violations,
  };
}

async function checkInvariants(db: string, call: Api, ops: OperationRow[], submitted: string[]): Promise<string[]> {
  const violations: string[] = [];
  if (ops.length !== submitted.length) violations.push(`${submitted.length} operations accepted, ${ops.length} in the database`);
  for (const op of ops) {
    if (!FINISHED.has(op.status)) violations.push(`operation ${op.id} (${op.kind}) never ended: still ${op.status}`);
    else if (op.status === 'canceled') violations.push(`operation ${op.id} (${op.kind}) ended canceled, though nobody canceled it`);
    else if (op.status === 'failed' && !op.error?.trim()) violations.push(`operation ${op.id} (${op.kind}) failed without a reason`);
  }

  const versions = await sql<{ resource_id: string; version: number; serial: string; created_at: Date }>(
    db,
    'select resource_id, version, serial, created_at from state_versions order by resource_id, version',
  );
  for (let i = 1; i < versions.length; i++) {
    const [a, b] = [versions[i - 1]!, versions[i]!];
    if (a.resource_id !== b.resource_id) continue;
    if (!(Number(b.serial) > Number(a.serial)) || b.created_at < a.created_at) {
      violations.push(`resource ${b.resource_id}: state version ${b.version} (serial ${b.serial}) does not follow version ${a.version} (serial ${a.serial})`);
    }
  }
  for (const resourceId of new Set(versions.map((v) => v.resource_id))) {
    const objects = new Set<string>();
    for (const v of versions.filter((x) => x.resource_id === resourceId)) {
      const res = await call('GET', `/v1/resources/${resourceId}/states/${v.version}`);
      if (res.status !== 200) {
        violations.push(`resource ${resourceId}: state version ${v.version} answered HTTP ${res.status}`);
        continue;
      }
      for (const id of objectIds(res.json)) objects.add(id);
    }
    if (objects.size > 1) violations.push(`resource ${resourceId} was created more than once: objects ${[...objects].join(', ')}`);
  }

  const locks = await sql<{ resource_id: string; lock_id: string }>(db, 'select resource_id, lock_id from state_locks where expires_at > now()');
  for (const l of locks) violations.push(`resource ${l.resource_id}: lock ${l.lock_id} still held`);
  const queue = ((await call('GET', '/v1/queues')).json.items as { name: string; waiting: number; active: number; delayed: number }[]).find((q) => q.name === 'provisioning');
  if (!queue) violations.push('GET /v1/queues lists no provisioning queue');
  else if (queue.waiting + queue.active + queue.delayed > 0) violations.push(`provisioning jobs left: ${JSON.stringify(queue)}`);
  return violations;
}

/** The ids of the terraform_data objects in a state. */
function objectIds(state: { resources?: { type: string; instances: { attributes: { id: string } }[] }[] }): string[] {
  return (state.resources ?? []).filter((r) => r.type === 'terraform_data').flatMap((r) => r.instances.map((i) => i.attributes.id));
}

/** Terraform processes a killed worker left behind (their working directory is under `dir`). */
function killProcessesUnder(dir: string): void {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readlinkSync(`/proc/${pid}/cwd`).startsWith(dir)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone, or not ours
    }
  }
}

/** A small seeded PRNG, so a run's kill moments can be replayed with its seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
