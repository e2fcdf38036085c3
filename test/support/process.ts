import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { inject } from 'vitest';
import { freePort } from '../../src/shared/net.ts';
import { deleteKeys } from './redis.ts';
import { REDIS_URL, TEST_ALLOWED_ENDPOINTS, databaseUrl } from './env.ts';
import { admin } from './global-setup.ts';

/**
 * End-to-end helpers: run the real `npm start` / `npm run cli` in their own process group, collect their output,
 * wait for URLs, and make sure nothing they started outlives the test (killAll in afterEach/afterAll).
 */
export const ROOT = resolve(import.meta.dirname, '../..');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Variables the service (or npm, or vitest) reads that must not leak from the test runner into a child. */
const INHERITED_BUT_DROPPED = /^(DATABASE_URL|REDIS_URL|PORT|HOST|LOG_LEVEL|TERRAFORM_BIN|SKYLOFT_\w*|VITEST\w*|NODE_OPTIONS|npm_\w*)$/i;

/** The child's environment: the runner's without the service's variables, the emulator's endpoints allowed, then `env`. */
export function childEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !INHERITED_BUT_DROPPED.test(k)));
  const out: NodeJS.ProcessEnv = { ...base, SKYLOFT_ALLOWED_ENDPOINTS: TEST_ALLOWED_ENDPOINTS, PATH: `${ROOT}/node_modules/.bin:${process.env.PATH ?? ''}` };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

const live = new Set<NpmProcess>();

export class NpmProcess {
  readonly args: string[];
  readonly child: ChildProcess;
  readonly pid: number;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;

  constructor(args: string[], env: Record<string, string | undefined>) {
    this.args = args;
    // detached: its own process group, so every descendant (node, an embedded PostgreSQL) can be found and killed.
    this.child = spawn('npm', args, { cwd: ROOT, env: childEnv(env), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.pid = this.child.pid!;
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    // 'exit', not 'close': an orphaned grandchild can keep npm's pipes open long after npm itself exited.
    const closed = new Promise<void>((ok) => this.child.once('close', () => ok()));
    this.exited = new Promise((ok) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal, stdout: this.stdout, stderr: this.stderr };
        // Give the pipes a moment to deliver the last output.
        void Promise.race([closed, sleep(2_000)]).then(() => ok({ ...this.exit!, stdout: this.stdout, stderr: this.stderr }));
      });
    });
    live.add(this);
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** A readable tail of everything the process printed, for assertion messages. */
  describe(chars = 4000): string {
    const all = `$ npm ${this.args.join(' ')}\n--- stdout ---\n${this.stdout}\n--- stderr ---\n${this.stderr}`;
    return all.length > chars ? `...${all.slice(-chars)}` : all;
  }

  /** Resolves with the exit, or rejects (naming the output) when it takes longer than timeoutMs. */
  async waitForExit(timeoutMs: number): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.exited,
        new Promise<never>((_, fail) => {
          timer = setTimeout(() => fail(new Error(`npm ${this.args.join(' ')} still running after ${timeoutMs} ms\n${this.describe()}`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Processes still alive in this process group (zombies excluded). */
  members(): { pid: number; cmdline: string }[] {
    return groupMembers(this.pid);
  }

  /** The Node process actually running Skyloft (under npm: `exec node src/main.ts`), the one whose entry is a .ts file. */
  serviceProcess(): number | undefined {
    return this.members().find((m) => /^(\S*\/)?node\s(.*\s)?\S+\.ts(\s|$)/.test(m.cmdline))?.pid;
  }

  /** Waits until no process of the group is left. */
  async waitForGroupExit(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.members().length > 0) {
      if (Date.now() > deadline) {
        throw new Error(`processes still running ${timeoutMs} ms after stop: ${JSON.stringify(this.members())}\n${this.describe()}`);
      }
      await sleep(100);
    }
  }

  /**
   * SIGTERM to the Skyloft Node process itself (not to npm: see the npm start test), then waits for npm to exit
   * and for every process of the group, an embedded PostgreSQL included, to be gone.
   */
  async terminate(timeoutMs = 30_000): Promise<Exit> {
    const pid = this.serviceProcess();
    if (pid === undefined) throw new Error(`no Skyloft process to stop\n${this.describe()}`);
    process.kill(pid, 'SIGTERM');
    const exit = await this.waitForExit(timeoutMs);
    await this.waitForGroupExit(timeoutMs);
    return exit;
  }

  /** SIGKILL to the whole group; waits for it to be gone. */
  async kill(): Promise<void> {
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // group already gone
    }
    await this.waitForGroupExit(10_000).catch(() => {});
    if (this.running) await this.waitForExit(5_000).catch(() => {});
    live.delete(this);
  }
}

export function npm(args: string[], env: Record<string, string | undefined>): NpmProcess {
  return new NpmProcess(args, env);
}

/** Runs an npm command to completion. */
export async function runNpm(args: string[], env: Record<string, string | undefined>, timeoutMs = 60_000): Promise<Exit> {
  const p = npm(args, env);
  try {
    return await p.waitForExit(timeoutMs);
  } finally {
    await p.kill();
  }
}

/** `npm run --silent cli -- <args> --json`, returning the parsed last line of stdout. */
export async function cliJson(args: string[], env: Record<string, string | undefined>): Promise<{ exit: Exit; json: any }> {
  const exit = await runNpm(['run', '--silent', 'cli', '--', ...args, '--json'], env);
  const last = exit.stdout.trimEnd().split('\n').at(-1) ?? '';
  let json: any;
  try {
    json = JSON.parse(last);
  } catch {
    throw new Error(`the last stdout line is not JSON (exit ${exit.code})\n--- stdout ---\n${exit.stdout}\n--- stderr ---\n${exit.stderr}`);
  }
  return { exit, json };
}

/** Kills every process group started through this module that is still around. */
export async function killAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.kill()));
}

export { freePort };

/** Polls `url` until it answers 200; fails at once (with the output) if the process exits first. */
export async function waitForOk(proc: NpmProcess, url: string, timeoutMs: number): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    if (!proc.running) throw new Error(`the process exited before ${url} answered 200\n${proc.describe()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return res;
      last = `HTTP ${res.status} ${await res.text()}`;
    } catch (e) {
      last = String((e as Error).cause ?? e);
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (last: ${last})\n${proc.describe()}`);
    await sleep(200);
  }
}

/** A running `npm start` with SKYLOFT_ROLES=roles, on its own free port; `base` is its http://127.0.0.1:port. */
export interface Started {
  proc: NpmProcess;
  port: number;
  base: string;
}

/** `npm start` with `roles` on a free port, once its /readyz answers 200 (`env` as the child's, then the roles and port). */
export async function startRoles(roles: string, env: Record<string, string | undefined>, timeoutMs = 60_000): Promise<Started> {
  const port = await freePort();
  const proc = npm(['start'], { ...env, SKYLOFT_ROLES: roles, PORT: String(port) });
  const base = `http://127.0.0.1:${port}`;
  await waitForOk(proc, `${base}/readyz`, timeoutMs);
  return { proc, port, base };
}

/** Calls a started process's API with an API key: the answer's status, its text, and its body parsed on demand. */
export function apiCaller(base: string, apiKey: string) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; text: string; json: () => any }> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${apiKey}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, text, json: () => JSON.parse(text) };
  };
}

/** True when nothing accepts connections on the port any more. */
export async function portClosed(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1_000) });
    return false;
  } catch {
    return true;
  }
}

export const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

function groupMembers(pgid: number): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its closing parenthesis.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) !== pgid || state === 'Z') continue;
      out.push({ pid: Number(name), cmdline: readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').trim() });
    } catch {
      // exited while reading
    }
  }
  return out;
}

/** A new database for one test: a clone of the run's migrated template, or empty. The global teardown drops it. */
export async function freshDatabase(opts: { empty?: boolean } = {}): Promise<{ name: string; url: string }> {
  const name = `skyloft_t_${inject('runId')}_${randomBytes(4).toString('hex')}`;
  await admin(opts.empty ? `create database ${name}` : `create database ${name} template ${inject('templateDb')}`);
  return { name, url: databaseUrl(name) };
}

export async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** A unique Redis key prefix; `drop()` deletes its keys. */
export function redisPrefix(): { prefix: string; drop(): Promise<void> } {
  const prefix = `e2e-${randomBytes(6).toString('hex')}`;
  return {
    prefix,
    async drop() {
      const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await redis.connect();
      try {
        await deleteKeys(redis, prefix);
      } finally {
        redis.disconnect();
      }
    },
  };
}

export const masterKey = () => randomBytes(32).toString('base64');
export const email = () => `e2e-${randomBytes(4).toString('hex')}@example.com`;
