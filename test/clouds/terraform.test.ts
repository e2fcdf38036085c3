import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  apply,
  createRedactor,
  createWorkdir,
  destroy,
  init,
  isolationWarning,
  output,
  plan,
  pushErroredState,
  renderCliConfig,
  runTerraform,
  TerraformCanceledError,
  TerraformError,
  TerraformTimeoutError,
  type StepOptions,
  type TerraformSettings,
  type Workdir,
} from '../../src/clouds/terraform/index.ts';
import { claimUid } from '../../src/clouds/terraform/uids.ts';
import { DEFAULT_TERRAFORM_UID_BASE, TERRAFORM_UID_SPAN } from '../../src/config/index.ts';
import { INSTALLABLE_PROVIDER_ADDRESSES } from '../../stacks/providers.ts';
import { workerTempDir } from '../../workers/workdirs.ts';

const settings: TerraformSettings = {
  bin: 'terraform',
  providerMirror: undefined,
  stepTimeoutMs: 60_000,
  uidBase: DEFAULT_TERRAFORM_UID_BASE,
};
const workdirs: Workdir[] = [];
afterEach(async () => {
  await Promise.all(workdirs.splice(0).map((w) => w.dispose()));
});

/** A work directory with `module/main.tf.json`, and step options that collect everything passed to onOutput. */
async function moduleWith(config: object, extra: Partial<StepOptions> = {}) {
  const wd = await createWorkdir();
  workdirs.push(wd);
  const dir = join(wd.dir, 'module');
  await mkdir(dir);
  await writeModule(dir, config);
  const chunks: string[] = [];
  const opts: StepOptions = { terraform: settings, workdir: wd.dir, uid: wd.uid, onOutput: (t) => chunks.push(t), ...extra };
  return { wd, dir, opts, logged: () => chunks.join('') };
}

const writeModule = (dir: string, config: object) => writeFile(join(dir, 'main.tf.json'), JSON.stringify(config));

const data = (resources: Record<string, object>, outputs: Record<string, unknown> = {}) => ({
  resource: { terraform_data: resources },
  // An empty "output" object is a syntax error in .tf.json, so it is left out when there are none.
  ...(Object.keys(outputs).length > 0 && {
    output: Object.fromEntries(Object.entries(outputs).map(([k, value]) => [k, { value }])),
  }),
});
const localExec = (command: string) => ({ input: 'x', provisioner: [{ 'local-exec': { command } }] });

/**
 * A provisioner whose `sleep` is a grandchild of terraform (terraform's own interrupt handling only kills the shell
 * it started), records its pid and sleeps far beyond any limit in these tests. Only a kill of the whole process
 * group reaches it.
 */
const SLEEPER = data({ slow: localExec('sleep 30 & echo $! > sleep.pid; wait') });

async function waitForFile(file: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const text = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
    if (text !== '') return text;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${file} never appeared`);
}

/** kill(pid, 0) fails once the process is gone; a zombie nobody has reaped yet counts as gone (it runs nothing). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
  return !/^\d+ \(.*\) Z /.test(stat);
}

describe('the terraform runner', () => {
  it('runs init, plan and apply and summarises each plan from its JSON', async () => {
    const v1 = data(
      { a: { input: 'hello', triggers_replace: 'v1' }, b: { input: 'one' } },
      { greeting: '${terraform_data.a.output}' },
    );
    const { dir, opts, logged } = await moduleWith(v1);
    await init(dir, opts);
    const first = await plan(dir, opts);
    expect(first.changes).toBe(true);
    expect(first.summary).toEqual({ add: 2, change: 0, destroy: 0 });
    await apply(dir, opts);
    expect(logged()).toContain('Apply complete! Resources: 2 added');

    const again = await plan(dir, opts);
    expect(again).toMatchObject({ changes: false, summary: { add: 0, change: 0, destroy: 0 } });

    await writeModule(dir, data({ a: { input: 'hello', triggers_replace: 'v2' }, b: { input: 'two' } }));
    expect((await plan(dir, opts)).summary).toEqual({ add: 1, change: 1, destroy: 1 });

    const gone = await destroy(dir, opts);
    expect(gone.plan.summary).toEqual({ add: 0, change: 0, destroy: 2 });
    expect(gone.apply?.output).toContain('Resources: 0 added, 0 changed, 2 destroyed');
  });

  it('parses outputs into a plain object of values', async () => {
    const { dir, opts } = await moduleWith({
      ...data({ a: { input: { size: 3, tags: ['x', 'y'] } } }),
      output: {
        input: { value: '${terraform_data.a.output}' },
        name: { value: 'web' },
        hidden: { value: 'shh', sensitive: true },
      },
    });
    await init(dir, opts);
    await plan(dir, opts);
    await apply(dir, opts);
    expect(await output(dir, opts)).toEqual({ input: { size: 3, tags: ['x', 'y'] }, name: 'web', hidden: 'shh' });
  });

  it('never lets a secret terraform prints reach onOutput, the result, the outputs or an error', async () => {
    const secret = `sk-live-${randomBytes(12).toString('hex')}`;
    const encoded = Buffer.from(`user:${secret}`).toString('base64');
    const { dir, opts, logged } = await moduleWith(
      {
        variable: { pw: { type: 'string' } },
        ...data(
          { leak: localExec('echo "key=$AWS_SECRET_ACCESS_KEY"; printf %s "user:$AWS_SECRET_ACCESS_KEY" | base64') },
          { leaked: '${var.pw}' },
        ),
      },
      { env: { AWS_SECRET_ACCESS_KEY: secret, TF_VAR_pw: `before-${secret}-after` } },
    );
    await init(dir, opts);
    const planned = await plan(dir, opts);
    const applied = await apply(dir, opts);
    const outputs = await output(dir, opts);

    expect(logged()).toContain('key=[redacted]');
    expect(logged()).toContain('leaked = "before-[redacted]-after"');
    for (const text of [logged(), planned.output, applied.output, JSON.stringify(outputs)]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(encoded);
    }
    expect(outputs).toEqual({ leaked: 'before-[redacted]-after' });

    await writeModule(dir, data({ fail: localExec('echo "oops $AWS_SECRET_ACCESS_KEY"; exit 3') }));
    await plan(dir, opts);
    const err = await apply(dir, opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TerraformError);
    const failed = err as TerraformError;
    expect(failed.exitCode).toBe(1);
    expect(failed.outputTail).toContain('oops [redacted]');
    expect(JSON.stringify([failed.message, failed.details, logged()])).not.toContain(secret);
  });

  it('hands terraform only PATH, HOME, its settings and the caller env, never Skyloft’s own', async () => {
    const saved = { key: process.env.SKYLOFT_MASTER_KEY, db: process.env.DATABASE_URL };
    process.env.SKYLOFT_MASTER_KEY = randomBytes(32).toString('base64');
    process.env.DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/skyloft';
    try {
      const { wd, dir, opts, logged } = await moduleWith(data({ env: localExec('env > env.txt') }), {
        env: { TF_HTTP_USERNAME: 'skyloft', CUSTOM: 'from-caller' },
      });
      await init(dir, opts);
      await plan(dir, opts);
      await apply(dir, opts);
      const env = Object.fromEntries(
        (await readFile(join(dir, 'env.txt'), 'utf8'))
          .trim()
          .split('\n')
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
      expect(env).not.toHaveProperty('SKYLOFT_MASTER_KEY');
      expect(env).not.toHaveProperty('DATABASE_URL');
      expect(env).toMatchObject({
        PATH: process.env.PATH,
        HOME: wd.dir,
        TF_CLI_CONFIG_FILE: join(wd.dir, 'terraform.rc'),
        TF_IN_AUTOMATION: '1',
        TF_INPUT: '0',
        CHECKPOINT_DISABLE: '1',
        TF_HTTP_USERNAME: 'skyloft',
        CUSTOM: 'from-caller',
      });
      const addedByShell = ['PWD', 'OLDPWD', 'SHLVL', '_'];
      expect(Object.keys(env).filter((k) => !(k in opts.env!) && !addedByShell.includes(k)).sort()).toEqual(
        ['CHECKPOINT_DISABLE', 'HOME', 'PATH', 'TF_CLI_CONFIG_FILE', 'TF_INPUT', 'TF_IN_AUTOMATION'].sort(),
      );
      // This machine points TF_CLI_CONFIG_FILE at a missing file; ours is valid: terraform has nothing to warn about.
      expect(await readFile(join(wd.dir, 'terraform.rc'), 'utf8')).toBe(renderCliConfig(undefined));
      expect(logged()).not.toContain('CLI configuration');
    } finally {
      for (const [name, value] of [['SKYLOFT_MASTER_KEY', saved.key], ['DATABASE_URL', saved.db]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('stops a step that runs past its time limit, with its whole process group, and says it timed out', async () => {
    const { dir, opts } = await moduleWith(SLEEPER);
    await init(dir, opts);
    await plan(dir, opts);
    const started = Date.now();
    const err = await apply(dir, { ...opts, timeoutMs: 2_000 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2_000 + 3_000);
    expect(err).toBeInstanceOf(TerraformTimeoutError);
    expect(err).toMatchObject({ code: 'terraform_timed_out', retryable: false, exitCode: null });
    expect((err as Error).message).toMatch(/limit of 2 s/);
    const sleepPid = Number(await waitForFile(join(dir, 'sleep.pid')));
    expect(isRunning(sleepPid)).toBe(false);
    // Terraform was interrupted, not killed: it stopped gracefully and still wrote the state of what it had done.
    expect((err as TerraformError).outputTail).toContain('Interrupt received');
    expect(existsSync(join(dir, 'terraform.tfstate'))).toBe(true);
  });

  it('escalates to SIGKILL when the process group ignores the interrupt', async () => {
    // A stand-in for terraform (the runner treats any binary alike) that ignores SIGINT and SIGTERM, as does its child.
    const { wd, dir, opts } = await moduleWith({});
    const bin = join(wd.dir, 'stubborn.sh');
    await writeFile(bin, "#!/bin/sh\ntrap '' INT TERM\nsleep 30 &\necho $$ $! > pids\nwait\n", { mode: 0o755 });
    const started = Date.now();
    const err = await runTerraform(['apply'], {
      ...opts,
      cwd: dir,
      terraform: { ...settings, bin },
      timeoutMs: 500,
      killGraceMs: 1_000,
    }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    expect(Date.now() - started).toBeLessThan(1_500 + 2_000);
    expect(err).toBeInstanceOf(TerraformTimeoutError);
    const pids = (await waitForFile(join(dir, 'pids'))).split(' ').map(Number);
    expect(pids.filter(isRunning)).toEqual([]);
  });

  it('cancels a running step through its AbortSignal, killing its process group', async () => {
    const { dir, opts } = await moduleWith(SLEEPER);
    await init(dir, opts);
    await plan(dir, opts);
    const controller = new AbortController();
    const running = apply(dir, { ...opts, signal: controller.signal }).catch((e: unknown) => e);
    const sleepPid = Number(await waitForFile(join(dir, 'sleep.pid')));
    expect(isRunning(sleepPid)).toBe(true);
    const canceledAt = Date.now();
    controller.abort();
    const err = await running;
    expect(Date.now() - canceledAt).toBeLessThan(5_000);
    expect(err).toBeInstanceOf(TerraformCanceledError);
    expect(err).toMatchObject({ code: 'terraform_canceled', retryable: false });
    expect(isRunning(sleepPid)).toBe(false);

    // An already-aborted signal never starts terraform.
    await expect(init(dir, { ...opts, signal: AbortSignal.abort() })).rejects.toBeInstanceOf(TerraformCanceledError);
  });

  it('rejects a failing step with its exit code and the error from its output', async () => {
    const { dir, opts } = await moduleWith(data({ a: { bogus: 1 } }));
    await init(dir, opts);
    const err = await plan(dir, opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TerraformError);
    expect(err).toMatchObject({ code: 'terraform_failed', exitCode: 1, retryable: false });
    expect((err as Error).message).toMatch(/^terraform plan failed with exit code 1: Extraneous JSON object property/);
    expect((err as TerraformError).outputTail).toContain('bogus');

    const missing = { ...opts, terraform: { ...settings, bin: '/nonexistent/terraform' } };
    await expect(runTerraform(['version'], { ...missing, cwd: dir })).rejects.toThrow(
      /could not start terraform.*TERRAFORM_BIN/,
    );
  });

  it('pushes an errored.tfstate left by a failed push, never with -force', async () => {
    const { dir, opts } = await moduleWith(data({ a: { input: 'x' } }, { o: 'applied' }));
    await init(dir, opts);
    await plan(dir, opts);
    await apply(dir, opts);
    expect(await pushErroredState(dir, opts)).toBe(false);

    const state = JSON.parse(await readFile(join(dir, 'terraform.tfstate'), 'utf8'));
    const errored = join(dir, 'errored.tfstate');
    const rescued = { ...state, serial: state.serial + 1, outputs: { o: { ...state.outputs.o, value: 'rescued' } } };
    await writeFile(errored, JSON.stringify(rescued));
    expect(await pushErroredState(dir, opts)).toBe(true);
    expect(existsSync(errored)).toBe(false);
    expect(await output(dir, opts)).toEqual({ o: 'rescued' });

    // An older serial means someone wrote a newer state since: refused, and the file is kept for a human.
    await writeFile(errored, JSON.stringify({ ...state, serial: 0 }));
    await expect(pushErroredState(dir, opts)).rejects.toThrow(/newer state/);
    expect(existsSync(errored)).toBe(true);
  });
});

describe('the work directory', () => {
  it('is private and removed by dispose, which may be called twice', async () => {
    const wd = await createWorkdir();
    expect((await stat(wd.dir)).mode & 0o777).toBe(0o700);
    await mkdir(join(wd.dir, 'module', '.terraform'), { recursive: true });
    await writeFile(join(wd.dir, 'module', 'plan.tfplan'), 'x');
    await wd.dispose();
    expect(existsSync(wd.dir)).toBe(false);
    await expect(wd.dispose()).resolves.toBeUndefined();
  });

  it('writes a CLI config that installs only the pinned providers, from the mirror when there is one', async () => {
    const list = INSTALLABLE_PROVIDER_ADDRESSES.map((a) => JSON.stringify(a)).join(', ');
    expect(list).toContain('"registry.terraform.io/hashicorp/aws"');
    expect(renderCliConfig(undefined)).toBe(`provider_installation {\n  direct {\n    include = [${list}]\n  }\n}\n`);

    const mirror = await mkdtemp(join(tmpdir(), 'skyloft-mirror-'));
    await chmod(mirror, 0o755); // terraform's uid reads the mirror
    try {
      const { wd, dir, opts } = await moduleWith(
        { terraform: { required_providers: { aws: { source: 'hashicorp/aws' } } } },
        { terraform: { ...settings, providerMirror: mirror } },
      );
      const err = await init(dir, opts).catch((e: unknown) => e);
      expect(await readFile(join(wd.dir, 'terraform.rc'), 'utf8')).toBe(
        `provider_installation {\n  filesystem_mirror {\n    path    = "${mirror}"\n    include = [${list}]\n  }\n}\n`,
      );
      // A pinned provider: terraform looked for it in the mirror (empty here), and nowhere else.
      expect(err).toBeInstanceOf(TerraformError);
      expect((err as TerraformError).outputTail).toContain(mirror);
    } finally {
      await rm(mirror, { recursive: true, force: true });
    }
  });

  it('never installs a provider outside the pinned set, nor asks its host for it', async () => {
    // A stand-in for the network: terraform sends every registry request through HTTPS_PROXY; this records them.
    const asked: string[] = [];
    const proxy = createServer((req, res) => {
      asked.push(`${req.method} ${req.url}`);
      res.writeHead(502).end();
    });
    proxy.on('connect', (req: { url?: string }, socket: Socket) => {
      asked.push(`CONNECT ${req.url}`);
      socket.destroy();
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const HTTPS_PROXY = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const evil = {
      terraform: { required_providers: { evil: { source: 'evil.example.com/attacker/evil' } } },
      ...data({ a: { input: 'x' } }),
    };
    const mirror = await mkdtemp(join(tmpdir(), 'skyloft-mirror-'));
    await chmod(mirror, 0o755);
    try {
      // The probe works: terraform with an empty CLI config (the old behaviour) goes to the provider's host.
      const control = await mkdtemp(join(tmpdir(), 'skyloft-control-'));
      try {
        await writeModule(control, evil);
        await writeFile(join(control, 'empty.rc'), '');
        const env = { PATH: process.env.PATH!, HOME: control, TF_CLI_CONFIG_FILE: join(control, 'empty.rc'), CHECKPOINT_DISABLE: '1', HTTPS_PROXY };
        await new Promise((r) => execFile('terraform', ['init', '-no-color', '-input=false'], { cwd: control, env, timeout: 30_000 }, r));
        expect(asked).toContain('CONNECT evil.example.com:443');
      } finally {
        await rm(control, { recursive: true, force: true });
      }
      asked.length = 0;

      for (const providerMirror of [undefined, mirror]) {
        const { dir, opts } = await moduleWith(evil, { terraform: { ...settings, providerMirror }, env: { HTTPS_PROXY } });
        const err = await init(dir, opts).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TerraformError);
        expect((err as TerraformError).outputTail.replace(/\s+/g, ' ')).toContain(
          'provider evil.example.com/attacker/evil was not found in any of the search locations',
        );
      }
      expect(asked).toEqual([]);
    } finally {
      proxy.close();
      await rm(mirror, { recursive: true, force: true });
    }
  });
});

/** Starts a process whose environment holds Skyloft's secrets, as a worker's does; ended by its own pid. */
function fakeWorker(secret: string) {
  const child = spawn('/bin/sleep', ['60'], { env: { SKYLOFT_MASTER_KEY: secret, DATABASE_URL: `postgres://u:${secret}@db/x` } });
  return { pid: child.pid!, stop: () => child.kill('SIGKILL') };
}

/** Waits (up to 2 s) for a SIGKILLed process to be gone. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 40 && isRunning(pid); i++) await new Promise((r) => setTimeout(r, 50));
  return !isRunning(pid);
}

/**
 * CI and the container image run as root, where terraform must be isolated; anywhere else each test asserts the
 * documented fallback instead, so neither is ever skipped.
 */
describe('what terraform runs as', () => {
  const root = process.getuid!() === 0;

  it('as root: each work directory under its own uid, with no-new-privs, shut out of everything else', async () => {
    if (!root) {
      // The fallback: the worker's own user, and a warning saying how to isolate terraform.
      expect(isolationWarning()).toMatch(/terraform is not isolated.*Run the worker as root/s);
      const { wd, dir, opts, logged } = await moduleWith(data({ probe: localExec('id -u') }));
      expect(wd.uid).toBeUndefined();
      await init(dir, opts);
      await plan(dir, opts);
      await apply(dir, opts);
      expect(logged()).toContain(`probe (local-exec): ${process.getuid!()}\n`);
      return;
    }
    expect(isolationWarning()).toBeUndefined();
    // The parent as a worker makes it (workers/workdirs.ts): 0711, in a temp dir of this test's own.
    const testTmp = await mkdtemp(join(tmpdir(), 'skyloft-isolation-'));
    // mkdtemp's 0700 would keep terraform's uid out of its own work directory: refused, saying why.
    await expect(createWorkdir({ parent: testTmp })).rejects.toThrow(`${testTmp} does not let other users through`);
    await chmod(testTmp, 0o711); // as /tmp: every folder above a work directory must let its uid through
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = testTmp;
    let parent: string;
    try {
      parent = workerTempDir();
    } finally {
      // Restored at once: uid claims must stay in the machine's shared registry.
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
    }
    expect((await stat(parent)).mode & 0o777).toBe(0o711);
    const secret = randomBytes(24).toString('hex');
    const worker = fakeWorker(secret);
    try {
      const other = await createWorkdir({ parent });
      workdirs.push(other);
      const neighbour = join(other.dir, 'module', 'secret.txt');
      await mkdir(join(other.dir, 'module'));
      await writeFile(neighbour, secret);

      const daemon = 'setsid sleep 30 >/dev/null 2>&1 < /dev/null & echo $! > daemon.pid';
      const cmd = [
        'id -u',
        'grep NoNewPrivs /proc/self/status',
        `ls ${parent} || echo "listing the parent failed"`,
        `cat ${neighbour} || echo "reading the neighbour failed"`,
        daemon,
      ].join('; ');
      const wd = await createWorkdir({ parent });
      workdirs.push(wd);
      const dir = join(wd.dir, 'module');
      await mkdir(dir);
      await writeModule(dir, data({ probe: localExec(cmd) }));
      const chunks: string[] = [];
      const opts: StepOptions = { terraform: settings, workdir: wd.dir, uid: wd.uid, onOutput: (t) => chunks.push(t) };
      // Both directories in use at once: the neighbour's terraform runs while this one does.
      const otherOpts = { ...opts, workdir: other.dir, uid: other.uid, onOutput: undefined };
      await Promise.all([init(dir, opts), init(join(other.dir, 'module'), otherOpts)]);
      await plan(dir, opts);
      await apply(dir, opts);
      const out = chunks.join('');

      expect(wd.uid).toBeGreaterThanOrEqual(DEFAULT_TERRAFORM_UID_BASE);
      expect(other.uid).not.toBe(wd.uid);
      expect(out).toContain(`probe (local-exec): ${wd.uid}\n`);
      expect(out).toMatch(/NoNewPrivs:\s+1/);
      expect(out).toMatch(/ls: cannot open directory .*: Permission denied/);
      expect(out).toMatch(/cat: .*secret\.txt: Permission denied/);
      expect(out).toContain('reading the neighbour failed');
      expect(out).not.toContain(secret);
      expect((await stat(wd.dir)).uid).toBe(wd.uid);
      expect((await stat(wd.dir)).mode & 0o777).toBe(0o700);
      expect((await stat(join(dir, 'main.tf.json'))).uid).toBe(wd.uid); // the worker's file, handed over
      // A daemon a local-exec left behind (outside terraform's process group) does not live into the next step.
      const first = Number(await readFile(join(dir, 'daemon.pid'), 'utf8'));
      expect(isRunning(first)).toBe(true);

      // The environment of a worker (this test process, and a stand-in holding the secrets) is out of reach.
      for (const pid of [process.pid, worker.pid]) {
        await writeModule(dir, data({ steal: localExec(`cat /proc/${pid}/environ`) }));
        await plan(dir, opts);
        expect(await gone(first)).toBe(true);
        const err = await apply(dir, opts).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TerraformError);
        const tail = (err as TerraformError).outputTail;
        expect(tail).toContain(`cat: /proc/${pid}/environ: Permission denied`);
        expect(tail).not.toContain(secret);
        expect(tail).not.toContain('SKYLOFT_MASTER_KEY');
        for (const entry of (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').filter((e) => e.length > 8)) {
          expect(chunks.join('')).not.toContain(entry);
        }
      }

      // Nor does one outlive its work directory (whose uid goes to the next one).
      await writeModule(dir, data({ again: localExec(daemon) }));
      await plan(dir, opts);
      await apply(dir, opts);
      const last = Number(await readFile(join(dir, 'daemon.pid'), 'utf8'));
      expect(isRunning(last)).toBe(true);
      await wd.dispose();
      expect(await gone(last)).toBe(true);

      // The worker itself never runs terraform as root.
      await expect(runTerraform(['version'], { ...opts, uid: undefined, cwd: other.dir })).rejects.toThrow(
        /refusing to run terraform as root/,
      );
    } finally {
      worker.stop();
      await Promise.all(workdirs.splice(0).map((w) => w.dispose()));
      await rm(testTmp, { recursive: true, force: true });
    }
  });

  it('as root: never gives one uid to two live claims, even across processes', async () => {
    if (!root) {
      const wd = await createWorkdir();
      workdirs.push(wd);
      expect(wd.uid).toBeUndefined(); // no uids to give: terraform runs as the worker
      return;
    }
    const base = DEFAULT_TERRAFORM_UID_BASE;
    const registry = join(tmpdir(), 'skyloft-terraform-uids');
    // Another live process (a stand-in) holds `base`; a dead one held `base + 1` and left its folder behind.
    const holder = spawn('/bin/sleep', ['60']);
    const stat22 = (await readFile(`/proc/${holder.pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')[19];
    const live = join(registry, `${holder.pid}-${stat22}`);
    const dead = join(registry, '999999999-1');
    await mkdir(join(live, String(base)), { recursive: true });
    await mkdir(join(dead, String(base + 1)), { recursive: true });
    const random = vi.spyOn(Math, 'random');
    try {
      random.mockReturnValueOnce(0).mockReturnValueOnce(1 / TERRAFORM_UID_SPAN);
      const claim = await claimUid(base);
      expect(claim.uid).toBe(base + 1); // base was skipped; the dead process's claim did not count, and is swept
      expect(existsSync(dead)).toBe(false);
      expect(existsSync(live)).toBe(true);
      await claim.release();
      random.mockRestore();
      const many = await Promise.all(Array.from({ length: 20 }, () => createWorkdir()));
      workdirs.push(...many);
      expect(new Set(many.map((w) => w.uid)).size).toBe(20);
    } finally {
      random.mockRestore();
      holder.kill('SIGKILL');
      await rm(live, { recursive: true, force: true });
    }
  });
});

describe('the redactor', () => {
  const secret = 'hunter2-s3cr3t-value';

  it('redacts a secret however the output is split into chunks', () => {
    const text = `line one\npassword=${secret} and again ${secret}\nlast ${secret}`;
    for (let cut = 1; cut < text.length; cut++) {
      for (const step of [cut, 3]) {
        const stream = createRedactor([secret]).stream();
        let out = '';
        for (let i = 0; i < text.length; i += step) out += stream.write(text.slice(i, i + step));
        out += stream.end();
        expect(out).toBe('line one\npassword=[redacted] and again [redacted]\nlast [redacted]');
      }
    }
  });

  it('redacts base64 forms at any alignment, and each line of a multi-line secret', () => {
    const { redact } = createRedactor([secret, '-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END KEY-----']);
    for (const prefix of ['', 'u:', 'ab:', 'user:']) {
      const basic = Buffer.from(`${prefix}${secret}`).toString('base64');
      expect(redact(`Authorization: Basic ${basic}`)).toContain('[redacted]');
      expect(redact(`Authorization: Basic ${basic}`)).not.toContain(basic);
    }
    expect(redact('key: MIIEvQIBADANBgkqhkiG9w0B')).toBe('key: [redacted]');
  });

  it('ignores empty and very short secrets and bounds a line without newlines', () => {
    const { redact, stream } = createRedactor(['', 'ab', 'xyz']);
    expect(redact('ab xyz abc')).toBe('ab xyz abc');
    const s = createRedactor([secret]).stream();
    const long = 'x'.repeat(70 * 1024) + secret;
    const out = s.write(long.slice(0, long.length - 5)) + s.write(long.slice(-5)) + s.end();
    expect(out).toBe('x'.repeat(70 * 1024) + '[redacted]');
    expect(stream().write('no newline yet')).toBe('');
  });
});
