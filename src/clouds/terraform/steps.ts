import { access, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { secretsOf } from './cli-config.ts';
import { createRedactor } from './redact.ts';
import { runTerraform, type RunOptions, type RunResult } from './run.ts';

/**
 * The terraform steps of an operation. Each takes the module folder (`dir`) and the same options as runTerraform;
 * each is one terraform process with its own time limit, so a provisioning job can persist its progress between
 * steps and resume at the one that failed.
 */
export type StepOptions = Omit<RunOptions, 'cwd' | 'captureStdout' | 'okExitCodes'>;

export const PLAN_FILE = 'plan.tfplan';
/** What terraform writes when it cannot persist state to the backend at the end of an apply. */
export const ERRORED_STATE_FILE = 'errored.tfstate';

export interface PlanSummary {
  readonly add: number;
  readonly change: number;
  readonly destroy: number;
}

export interface PlanResult extends RunResult {
  /** false when terraform reported no changes at all (exit code 0 under -detailed-exitcode). */
  readonly changes: boolean;
  readonly summary: PlanSummary;
}

const run = (dir: string, args: string[], opts: StepOptions, extra: Partial<RunOptions> = {}) =>
  runTerraform(args, { ...opts, ...extra, cwd: dir });

export function init(dir: string, opts: StepOptions): Promise<RunResult> {
  return run(dir, ['init', '-no-color', '-input=false'], opts);
}

/** Plans into PLAN_FILE; the summary is read from `terraform show -json`, never parsed from the human text. */
export async function plan(dir: string, opts: StepOptions, { destroy = false } = {}): Promise<PlanResult> {
  const args = ['plan', '-no-color', '-input=false', `-out=${PLAN_FILE}`, '-detailed-exitcode'];
  if (destroy) args.push('-destroy');
  const result = await run(dir, args, opts, { okExitCodes: [0, 2] });
  const summary = await showPlan(dir, opts);
  return { ...result, changes: result.code === 2, summary };
}

/** Applies the saved plan (a saved plan needs no -auto-approve, and applies exactly what was approved). */
export function apply(dir: string, opts: StepOptions): Promise<RunResult> {
  return run(dir, ['apply', '-no-color', '-input=false', PLAN_FILE], opts);
}

/** A destroy plan, then its apply (skipped when there is nothing to destroy). */
export async function destroy(dir: string, opts: StepOptions): Promise<{ plan: PlanResult; apply?: RunResult }> {
  const planned = await plan(dir, opts, { destroy: true });
  if (!planned.changes) return { plan: planned };
  return { plan: planned, apply: await apply(dir, opts) };
}

/** Counts the planned actions; a replacement (delete + create) counts once in add and once in destroy. */
export async function showPlan(dir: string, opts: StepOptions): Promise<PlanSummary> {
  const { stdout } = await run(dir, ['show', '-no-color', '-json', PLAN_FILE], opts, { captureStdout: true });
  const parsed = JSON.parse(stdout) as { resource_changes?: { change: { actions: string[] } }[] };
  const summary = { add: 0, change: 0, destroy: 0 };
  for (const { change } of parsed.resource_changes ?? []) {
    if (change.actions.includes('create')) summary.add++;
    if (change.actions.includes('update')) summary.change++;
    if (change.actions.includes('delete')) summary.destroy++;
  }
  return summary;
}

/** The root module's outputs as `{ name: value }`, from `terraform output -json`. */
export async function output(dir: string, opts: StepOptions): Promise<Record<string, unknown>> {
  const { stdout } = await run(dir, ['output', '-no-color', '-json'], opts, { captureStdout: true });
  return redactedOutputs(JSON.parse(stdout) as Record<string, { value: unknown }>, opts);
}

/**
 * Outputs (`terraform output -json`, or a state file's `outputs`) as `{ name: value }`. Values come back in full,
 * sensitive ones included (the caller stores them encrypted), but any string that contains a credential terraform
 * was given is redacted, so a module that echoes its credentials into an output cannot smuggle them onto the resource.
 */
export function redactedOutputs(outputs: Record<string, { value: unknown }>, opts: Pick<StepOptions, 'env' | 'secrets'>): Record<string, unknown> {
  const { redact } = createRedactor(secretsOf(opts.env, opts.secrets));
  const clean = (v: unknown): unknown => {
    if (typeof v === 'string') return redact(v);
    if (Array.isArray(v)) return v.map(clean);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clean(x)]));
    return v;
  };
  return Object.fromEntries(Object.entries(outputs).map(([name, o]) => [name, clean(o.value)]));
}

/**
 * When an apply could not save its state to the backend, terraform retries, then writes the state it holds to
 * errored.tfstate in its working directory: the only record of what was really created. Push it again before the
 * work directory goes, or those resources are orphaned. Returns whether a state was pushed.
 *
 * No -force: without it terraform refuses a state whose lineage differs from the backend's, or whose serial is
 * lower than the backend's (and one with the same serial but different content). errored.tfstate is the newest
 * state of this lineage (terraform bumped its serial when it failed to write it), so a plain push succeeds; if it is
 * refused, someone else has written a newer state since, and forcing would silently throw that away. The refusal
 * surfaces as a TerraformError and the file stays for a human to reconcile.
 */
export async function pushErroredState(dir: string, opts: StepOptions): Promise<boolean> {
  const file = join(dir, ERRORED_STATE_FILE);
  try {
    await access(file);
  } catch {
    return false;
  }
  await run(dir, ['state', 'push', '-no-color', ERRORED_STATE_FILE], opts);
  // Pushed: the copy holds secrets in plaintext and must not be pushed twice.
  await unlink(file);
  return true;
}
