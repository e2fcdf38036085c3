import { AppError } from '../../shared/errors.ts';

/** What a failed terraform step leaves for the operation log and the error handler (already redacted). */
export interface TerraformFailure {
  /** The terraform arguments, e.g. ["apply", "-no-color", "plan.tfplan"]. */
  readonly args: readonly string[];
  /** null when the process ended on a signal or never started. */
  readonly exitCode: number | null;
  /** The last lines of terraform's output, with secrets redacted. */
  readonly outputTail: string;
}

/**
 * A terraform step that failed. Not retryable: most terraform failures (a bad configuration, a missing permission, a
 * quota) fail the same way again, and a blind retry of an apply can make things worse; the provisioning step that
 * owns the operation decides whether another attempt makes sense (it knows, for example, that a state push failed).
 */
export class TerraformError extends AppError {
  readonly exitCode: number | null;
  readonly outputTail: string;

  constructor(
    message: string,
    failure: TerraformFailure,
    opts: { code?: string; httpStatus?: number; cause?: unknown } = {},
  ) {
    super(opts.code ?? 'terraform_failed', opts.httpStatus ?? 502, message, {
      details: { args: failure.args, exitCode: failure.exitCode, outputTail: failure.outputTail },
      retryable: false,
      cause: opts.cause,
    });
    this.exitCode = failure.exitCode;
    this.outputTail = failure.outputTail;
  }
}

/** The step ran past its time limit; its whole process group was stopped. */
export class TerraformTimeoutError extends TerraformError {
  constructor(args: readonly string[], timeoutMs: number, outputTail: string) {
    super(
      `terraform ${describe(args)} ran longer than its limit of ${formatMs(timeoutMs)} and was stopped; ` +
        'if the step legitimately needs longer, raise SKYLOFT_TERRAFORM_STEP_TIMEOUT',
      { args, exitCode: null, outputTail },
      { code: 'terraform_timed_out', httpStatus: 504 },
    );
  }
}

/** The step was canceled through its AbortSignal (the operation was canceled); its process group was stopped. */
export class TerraformCanceledError extends TerraformError {
  constructor(args: readonly string[], outputTail: string, reason?: unknown) {
    super(
      `terraform ${describe(args)} was canceled`,
      { args, exitCode: null, outputTail },
      { code: 'terraform_canceled', httpStatus: 409, cause: reason },
    );
  }
}

/** Commands whose second word is a subcommand. */
const GROUPS = new Set(['state', 'workspace', 'providers']);

/** "apply", "state push": the subcommand words, without flags or file names. */
export function describe(args: readonly string[]): string {
  const words: string[] = [];
  for (const a of args) {
    if (a.startsWith('-') || words.length === 2 || (words.length === 1 && !GROUPS.has(words[0]!))) break;
    words.push(a);
  }
  return words.join(' ') || '(no command)';
}

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1_000 === 0) return `${ms / 1_000} s`;
  return `${ms} ms`;
}
