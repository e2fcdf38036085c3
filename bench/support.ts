import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort } from '../src/shared/net.ts';
import { TEST_ALLOWED_ENDPOINTS } from '../test/support/env.ts';
import { deleteKeys } from '../test/support/redis.ts';

/** Shared helpers of the benchmark suites: processes, databases, Redis prefixes, terraform, statistics, output. */
export const ROOT = resolve(import.meta.dirname, '..');
// The machine's services, as the tests find them (test/support/env.ts): no variable is needed.
export const BASE_DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

export type Options = Record<string, number>;
export const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));
export const progress = (suite: string, msg: string) => process.stderr.write(`[${suite}] ${msg}\n`);
export const hex = (n = 4) => randomBytes(n).toString('hex');

/** One contract line on stdout: {"suite","measure","value","unit","baseline"?,"baselineValue"?,"ratio"?}. */
export function emit(suite: string, measure: string, value: number, unit: string, baseline?: { label: string; value: number }) {
  const line: Record<string, unknown> = { suite, measure, value: round(value), unit };
  if (baseline) Object.assign(line, { baseline: baseline.label, baselineValue: round(baseline.value), ratio: round(value / baseline.value, 3) });
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
const round = (v: number, digits = 3) => Number(v.toFixed(digits));

/** The middle value (the mean of the two middle ones for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
/** Nearest-rank percentile. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Cleanups run last-in first-out, whatever failed, and also on Ctrl-C (see run.ts). */
export class Scope {
  static readonly open = new Set<Scope>();
  private readonly cleanups: (() => unknown)[] = [];
  constructor() {
    Scope.open.add(this);
  }
  defer(fn: () => unknown): void {
    this.cleanups.push(fn);
  }
  async close(): Promise<void> {
    Scope.open.delete(this);
    for (const fn of this.cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (e) {
        process.stderr.write(`cleanup failed: ${String(e)}\n`);
      }
    }
  }
  tmpdir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'skyloft-bench-'));
    chmodSync(dir, 0o711); // a worker's TMPDIR: passable by the uid terraform runs as (src/clouds/terraform/uids.ts)
    this.defer(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }
}

export async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

/** A new empty database, dropped (WITH FORCE) when the scope closes. */
export async function freshDatabase(scope: Scope, label: string): Promise<string> {
  const name = `skyloft_bench_${label.replace(/\W/g, '_')}_${hex()}`;
  await sql(BASE_DATABASE_URL, `create database ${name}`);
  scope.defer(() => sql(BASE_DATABASE_URL, `drop database if exists ${name} with (force)`));
  const u = new URL(BASE_DATABASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A unique Redis key prefix whose keys are deleted when the scope closes. */
export function redisPrefix(scope: Scope): string {
  const prefix = `bench-${hex(6)}`;
  scope.defer(async () => {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      await deleteKeys(redis, prefix);
    } finally {
      redis.disconnect();
    }
  });
  return prefix;
}

/** What every Skyloft process of one suite shares: a fresh database, a random master key, its own Redis prefix. */
export async function skyloftEnv(scope: Scope, label: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    DATABASE_URL: await freshDatabase(scope, label),
    REDIS_URL,
    SKYLOFT_REDIS_PREFIX: redisPrefix(scope),
    SKYLOFT_MASTER_KEY: randomBytes(32).toString('base64'),
    // The emulator listens on loopback: endpoint overrides pointing at it must be allowed.
    SKYLOFT_ALLOWED_ENDPOINTS: TEST_ALLOWED_ENDPOINTS,
    ...extra,
  };
}

/**
 * The NODE_OPTIONS of a Skyloft process: `flags`, plus with `--cpu-profile 1` a run under `node --cpu-prof` writing
 * its .cpuprofile files (open them in Chrome DevTools or speedscope) into a directory named on stderr when the suite
 * ends. Nothing when there is nothing to pass.
 */
export function nodeOptionsEnv(scope: Scope, suite: string, processName: string, enabled: unknown, flags: string[] = []): Record<string, string> {
  const options = [...flags];
  if (enabled) {
    const dir = mkdtempSync(join(tmpdir(), `skyloft-${suite}-profile-`));
    scope.defer(() => progress(suite, `CPU profiles of the ${processName} process: ${dir}`));
    options.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
  }
  return options.length > 0 ? { NODE_OPTIONS: options.join(' ') } : {};
}

/** The parent's environment minus everything Skyloft reads, plus `env` and node_modules/.bin on PATH. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const dropped = /^(DATABASE_URL|REDIS_URL|PORT|HOST|LOG_LEVEL|TERRAFORM_BIN|SKYLOFT_\w*|NODE_OPTIONS|npm_\w*)$/i;
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !dropped.test(k)));
  return { ...base, PATH: `${ROOT}/node_modules/.bin:${process.env.PATH ?? ''}`, ...env };
}

/** Processes still alive in a process group (zombies excluded). */
function groupAlive(pgid: number): boolean {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') return true;
    } catch {
      // gone while reading
    }
  }
  return false;
}

/**
 * `npm start` in its own process group, output to a log file; resolves once /readyz answers 200. The scope stops it:
 * SIGTERM to the group (Skyloft shuts down gracefully, stopping its terraform), SIGKILL after 20 s.
 */
export async function startSkyloft(scope: Scope, name: string, env: Record<string, string>): Promise<{ url: string; pid: number; logFile: string }> {
  const port = await freePort();
  const logFile = join(scope.tmpdir(), `${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn('npm', ['start'], { cwd: ROOT, env: childEnv({ ...env, PORT: String(port) }), detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const pid = child.pid!;
  let exited = false;
  child.once('exit', () => (exited = true));
  scope.defer(async () => {
    const signal = (s: NodeJS.Signals) => { try { process.kill(-pid, s); } catch { /* gone */ } };
    signal('SIGTERM');
    for (let i = 0; i < 200 && groupAlive(pid); i++) await sleep(100);
    if (groupAlive(pid)) signal('SIGKILL');
  });
  const url = `http://127.0.0.1:${port}`;
  const tail = () => readFileSync(logFile, 'utf8').slice(-4000);
  for (const deadline = Date.now() + 90_000; ; await sleep(200)) {
    if (exited) throw new Error(`${name} exited before it was ready:\n${tail()}`);
    const ok = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false);
    if (ok) return { url, pid, logFile };
    if (Date.now() > deadline) throw new Error(`${name} not ready after 90 s:\n${tail()}`);
  }
}

/** `npm run --silent cli -- bootstrap --json` against the suite's database: a new account and its admin API key. */
export function bootstrap(env: Record<string, string>): Promise<string> {
  return new Promise((ok, fail) => {
    const args = ['run', '--silent', 'cli', '--', 'bootstrap', '--email', `bench-${hex()}@example.com`, '--json'];
    execFile('npm', args, { cwd: ROOT, env: childEnv(env), timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) return fail(new Error(`bootstrap failed: ${err.message}\n${stderr}`));
      try {
        ok(JSON.parse(stdout.trimEnd().split('\n').at(-1) ?? '').apiKey);
      } catch {
        fail(new Error(`bootstrap printed no JSON:\n${stdout}\n${stderr}`));
      }
    });
  });
}

export type Api = (method: string, path: string, body?: unknown) => Promise<{ status: number; json: any }>;

export function api(baseUrl: string, key: string): Api {
  return async (method, path, body) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  };
}

/** A sandbox credential: what every sandbox resource needs. */
export async function sandboxCredential(call: Api): Promise<string> {
  const res = await call('POST', '/v1/credentials', { name: `bench-${hex()}`, provider: 'sandbox', secret: {} });
  if (res.status !== 201 && res.status !== 200) throw new Error(`credential: HTTP ${res.status} ${JSON.stringify(res.json)}`);
  return res.json.id;
}

/** The environment the worker gives terraform (src/clouds/terraform/cli-config.ts), for runs "by hand". */
export function terraformEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  const rc = join(home, 'terraform.rc');
  writeFileSync(rc, '');
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, TF_CLI_CONFIG_FILE: rc, TF_IN_AUTOMATION: '1', TF_INPUT: '0', CHECKPOINT_DISABLE: '1', ...extra };
}

/** Runs terraform in `cwd`; resolves with its wall time in ms, rejects with its output on a non-zero exit. */
export function terraform(cwd: string, args: string[], env: Record<string, string>): Promise<number> {
  const started = performance.now();
  return new Promise((ok, fail) => {
    execFile('terraform', args, { cwd, env, timeout: 300_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return fail(new Error(`terraform ${args.join(' ')} failed: ${err.message}\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`));
      ok(performance.now() - started);
    });
  });
}

/** Polls an operation until it succeeded (throws when it failed, was canceled or ran past the deadline). */
export async function waitForOperation(call: Api, id: string, pollMs = 200, timeoutMs = 180_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; ; await sleep(pollMs)) {
    const op = (await call('GET', `/v1/operations/${id}`)).json;
    if (op.status === 'succeeded') return;
    if (['failed', 'canceled'].includes(op.status)) throw new Error(`operation ${id} ${op.status}: ${op.error}`);
    if (Date.now() > deadline) throw new Error(`operation ${id} still ${op.status} after ${timeoutMs} ms`);
  }
}
