import { spawn } from 'node:child_process';
import type { Config } from '../../config/index.ts';
import type { Logger } from '../../shared/logger.ts';
import { terraformStepDuration } from '../../shared/metrics.ts';
import { secretsOf, terraformEnv, writeCliConfig } from './cli-config.ts';
import { describe, TerraformCanceledError, TerraformError, TerraformTimeoutError } from './errors.ts';
import { killGroupAndWait, signalGroup } from './process-group.ts';
import { createRedactor } from './redact.ts';
import { asUid, canSwitchUsers, chownTree, killAllOf, SETPRIV } from './uids.ts';

export type TerraformSettings = Config['terraform'];
export type OutputStream = 'stdout' | 'stderr';

export interface RunOptions {
  /** config.terraform: the binary, the provider mirror and the default step time limit. */
  readonly terraform: TerraformSettings;
  /** The operation's work directory (createWorkdir): terraform's HOME and the home of its CLI config. */
  readonly workdir: string;
  /**
   * The work directory's uid (Workdir.uid): terraform runs as it. Required when the worker is root, which never runs
   * terraform as itself; undefined otherwise (terraform then runs as the worker's own user).
   */
  readonly uid: number | undefined;
  /** Where terraform runs: the module folder inside the work directory. */
  readonly cwd: string;
  /** TF_HTTP_* for the state backend and the cloud's credentials; the only variables terraform sees besides PATH. */
  readonly env?: Readonly<Record<string, string>>;
  /** Values to redact from the output, besides every `env` value whose name looks secret (see secretsOf). */
  readonly secrets?: readonly string[];
  /** The step's time limit; config.terraform.stepTimeoutMs unless given. */
  readonly timeoutMs?: number;
  /** Cancels the step (the operation was canceled): the process group is stopped as on a timeout. */
  readonly signal?: AbortSignal;
  /** Redacted output, whole lines at a time, in the order terraform wrote it. */
  readonly onOutput?: (text: string, stream: OutputStream) => void;
  readonly logger?: Logger;
  /** stdout is data (e.g. `show -json`), not log: returned raw in `stdout`, never passed to onOutput or `output`. */
  readonly captureStdout?: boolean;
  /** Exit codes that count as success; [0] unless given (`plan -detailed-exitcode` adds 2). */
  readonly okExitCodes?: readonly number[];
  /** Between SIGINT (terraform stops gracefully and saves its state) and SIGKILL. */
  readonly killGraceMs?: number;
}

export interface RunResult {
  readonly code: number;
  /** The redacted output (its last MAX_OUTPUT characters). */
  readonly output: string;
  /** Raw stdout when captureStdout was set, else ''. */
  readonly stdout: string;
}

const DEFAULT_KILL_GRACE_MS = 5_000;
const MAX_OUTPUT = 1024 * 1024;
const TAIL_LINES = 40;
const TAIL_CHARS = 8 * 1024;
/** After terraform exits, how long to wait for its pipes to drain before giving up on them. */
const DRAIN_MS = 2_000;
/** How long a stopped step waits for the last process of its group to die before reporting anyway. */
const GROUP_EXIT_MS = 3_000;

/**
 * Runs one terraform command. Terraform runs detached, as the leader of its own process group, so that a timeout or
 * a cancel stops it together with its providers and local-exec children (process.kill(-pid)).
 *
 * Stopping sends SIGINT to the group, then SIGKILL once terraform has exited (or after the grace period), and settles
 * only when no process of the group still runs. SIGINT rather than SIGTERM: terraform treats both as "stop
 * gracefully" (it asks its providers to stop, lets in-flight calls return and writes its state, which is what keeps
 * a resource convergent after a cancel), but provider plugins ignore only SIGINT (hashicorp/go-plugin "eats" it, as
 * it is what a terminal's Ctrl-C sends the whole group); a SIGTERM would kill them mid-call, and a resource created
 * in that instant would be missing from the state: orphaned. Arguments are passed verbatim: callers add -no-color.
 * Each run is observed in skyloft_terraform_step_duration_seconds{step,outcome}.
 *
 * With a `uid` (a root worker), terraform runs as that uid with no-new-privs (see uids.ts), and before each step
 * whatever still runs as the uid is ended and the worker's own files in the work directory are given to it. Root
 * can still signal the group, so stopping works the same.
 */
export async function runTerraform(args: readonly string[], opts: RunOptions): Promise<RunResult> {
  const end = terraformStepDuration.startTimer({ step: stepOf(args) });
  try {
    const result = await runUnmetered(args, opts);
    end({ outcome: 'ok' });
    return result;
  } catch (e) {
    end({ outcome: e instanceof TerraformTimeoutError ? 'timeout' : e instanceof TerraformCanceledError ? 'canceled' : 'error' });
    throw e;
  }
}

const STEPS = new Set(['init', 'plan', 'apply', 'destroy', 'show', 'output', 'state', 'validate', 'import', 'refresh', 'force-unlock']);
/** The step label: terraform's subcommand, from a fixed set so the label stays bounded. */
const stepOf = (args: readonly string[]) => (args[0] && STEPS.has(args[0]) ? args[0] : 'other');

async function runUnmetered(args: readonly string[], opts: RunOptions): Promise<RunResult> {
  if (opts.signal?.aborted) throw new TerraformCanceledError(args, '', opts.signal.reason);
  const { uid } = opts;
  if (uid === undefined && canSwitchUsers()) {
    throw new Error('refusing to run terraform as root: pass the uid of the work directory (createWorkdir) as `uid`');
  }
  // Nothing of an earlier step may still run as the uid while the worker writes and re-owns files it could swap.
  if (uid !== undefined) await killAllOf(uid);
  const cliConfigFile = await writeCliConfig(opts.workdir, opts.terraform.providerMirror);
  if (uid !== undefined) await chownTree(opts.workdir, uid);
  const [bin, argv] = uid === undefined ? [opts.terraform.bin, [...args]] : asUid(uid, opts.terraform.bin, args);
  const env = terraformEnv({ workdir: opts.workdir, cliConfigFile, env: opts.env });
  const redactor = createRedactor(secretsOf(opts.env, opts.secrets));
  const timeoutMs = opts.timeoutMs ?? opts.terraform.stepTimeoutMs;
  const okExitCodes = opts.okExitCodes ?? [0];
  const command = describe(args);
  const log = opts.logger?.child({ terraform: command });
  const started = Date.now();

  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(bin, argv, {
      cwd: opts.cwd,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pid = child.pid;
    log?.debug({ pid, cwd: opts.cwd, uid }, 'terraform started');

    let output = '';
    let stdout = '';
    let stopping: 'timeout' | 'canceled' | undefined;
    let exited = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;

    const killGroup = (sig: NodeJS.Signals) => {
      if (pid === undefined) return;
      try {
        signalGroup(pid, sig);
      } catch (err) {
        log?.warn({ err, pid, sig }, 'could not signal terraform');
      }
    };
    const stop = (reason: 'timeout' | 'canceled') => {
      if (stopping !== undefined || exited) return;
      stopping = reason;
      log?.warn({ pid, reason, timeoutMs }, 'stopping terraform and its process group');
      killGroup('SIGINT');
      killTimer = setTimeout(() => killGroup('SIGKILL'), opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
    };
    const timer = setTimeout(() => stop('timeout'), timeoutMs);
    const onAbort = () => stop('canceled');
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const emit = (text: string, stream: OutputStream) => {
      if (text === '') return;
      output += text;
      if (output.length > 2 * MAX_OUTPUT) output = output.slice(-MAX_OUTPUT);
      try {
        opts.onOutput?.(text, stream);
      } catch (err) {
        log?.warn({ err }, 'onOutput threw; output kept in the result only');
      }
    };
    const streams = { stdout: redactor.stream(), stderr: redactor.stream() };
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (opts.captureStdout) stdout += chunk;
      else emit(streams.stdout.write(chunk), 'stdout');
    });
    child.stderr.on('data', (chunk: string) => emit(streams.stderr.write(chunk), 'stderr'));

    const settle = () => {
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      clearTimeout(drainTimer);
      opts.signal?.removeEventListener('abort', onAbort);
    };

    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settle();
      emit(streams.stdout.end(), 'stdout');
      emit(streams.stderr.end(), 'stderr');
      const text = output.slice(-MAX_OUTPUT);
      log?.debug({ pid, code, signal, ms: Date.now() - started, stopping }, 'terraform ended');
      const outcome = outcomeOf(code, signal, text);
      const deliver = () => (outcome instanceof Error ? reject(outcome) : resolve(outcome));
      if (stopping === undefined || pid === undefined) return deliver();
      void killGroupAndWait(pid, GROUP_EXIT_MS)
        .then(
          (gone) => gone || log?.error({ pid }, 'processes of a stopped terraform survived SIGKILL'),
          (err: unknown) => log?.error({ err, pid }, 'could not kill the process group of a stopped terraform'),
        )
        .finally(deliver);
    };

    /** A success stays a success even if the stop came too late to matter: the result says what terraform did. */
    const outcomeOf = (
      code: number | null,
      signal: NodeJS.Signals | null,
      text: string,
    ): RunResult | TerraformError => {
      if (code !== null && okExitCodes.includes(code)) return { code, output: text, stdout };
      if (code === 127 && uid !== undefined) {
        // setpriv could not execute terraform (missing, or not executable by the uid): as a spawn failure below.
        const failed = /^setpriv: failed to execute .*$/m.exec(text)?.[0];
        if (failed) return cannotStart(args, opts.terraform.bin, failed);
      }
      const tail = tailOf(text);
      if (stopping === 'timeout') return new TerraformTimeoutError(args, timeoutMs, tail);
      if (stopping === 'canceled') return new TerraformCanceledError(args, tail, opts.signal?.reason);
      const how = code === null ? `was killed by ${signal ?? 'a signal'}` : `failed with exit code ${code}`;
      const reason = summaryOf(text);
      return new TerraformError(`terraform ${command} ${how}${reason ? `: ${reason}` : ''}`, {
        args,
        exitCode: code,
        outputTail: tail,
      });
    };

    child.on('error', (err) => {
      // Only a spawn failure reaches here (we never use child.kill): no process exists.
      if (settled) return;
      settle();
      const how = uid === undefined ? err.message : `${err.message} (${SETPRIV}, from util-linux, runs it under its uid)`;
      reject(cannotStart(args, opts.terraform.bin, how, err));
    });
    child.on('exit', (code, signal) => {
      exited = true;
      if (settled) return;
      if (stopping !== undefined) {
        // Terraform is gone; anything left in its group (a provider, a local-exec child) is an orphan: end it now.
        clearTimeout(killTimer);
        killGroup('SIGKILL');
      }
      // 'close' follows once the pipes drain; a descendant that escaped the group could hold them open forever.
      drainTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(code, signal);
      }, DRAIN_MS);
    });
    child.on('close', (code, signal) => finish(code, signal));
  });
}

function cannotStart(args: readonly string[], bin: string, reason: string, cause?: Error): TerraformError {
  return new TerraformError(
    `could not start terraform ("${bin}"): ${reason}; install terraform or set TERRAFORM_BIN to its path ` +
      '(readable and executable by every user, as terraform runs under its own uid when the worker is root)',
    { args, exitCode: null, outputTail: '' },
    { cause },
  );
}

/** Terraform's first "Error: <summary>" line, or else the last line it wrote (e.g. "Failed to write state: ..."). */
function summaryOf(text: string): string | undefined {
  const line = /^Error: (.+)$/m.exec(text)?.[1] ?? text.trimEnd().split('\n').at(-1)?.trim();
  return line ? line.slice(0, 300) : undefined;
}

/** The last lines of the output, for an error message or the operation's failure record. */
function tailOf(text: string): string {
  const lines = text.trimEnd().split('\n');
  return lines.slice(-TAIL_LINES).join('\n').slice(-TAIL_CHARS);
}
