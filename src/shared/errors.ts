/**
 * The one error hierarchy. Services throw these; the HTTP error handler maps them to statuses
 * (src/http/plugins/errors.ts) and the worker wrapper maps `retryable` to queue behaviour.
 * A message says what went wrong and, where it can, how to fix it.
 */
export class AppError extends Error {
  readonly code: string;
  readonly httpStatus: number;
  readonly retryable: boolean;
  /** What the answer's `details` holds: null when there is nothing to add (never absent). */
  readonly details: unknown;

  constructor(
    code: string,
    httpStatus: number,
    message: string,
    opts: { details?: unknown; retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.httpStatus = httpStatus;
    this.retryable = opts.retryable ?? false;
    this.details = opts.details ?? null;
  }
}

export interface FieldProblem {
  path: string;
  message: string;
}

export class ValidationError extends AppError {
  constructor(message: string, problems?: FieldProblem[]) {
    super('validation_failed', 400, message, { details: problems });
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'A valid API key is required: send "Authorization: Bearer sky_..."') {
    super('unauthorized', 401, message);
  }
}

export class ForbiddenError extends AppError {
  constructor(message: string) {
    super('forbidden', 403, message);
  }
}

export class NotFoundError extends AppError {
  constructor(entity: string, id?: string) {
    super('not_found', 404, id === undefined ? `${entity} not found` : `${entity} ${id} not found`);
  }
}

export class ConflictError extends AppError {
  constructor(message: string, details?: unknown) {
    super('conflict', 409, message, { details });
  }
}

export class UnprocessableError extends AppError {
  constructor(message: string, details?: unknown) {
    super('unprocessable', 422, message, { details });
  }
}

export class RateLimitedError extends AppError {
  readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number, opts: { code?: string; message?: string; details?: unknown } = {}) {
    super(opts.code ?? 'rate_limited', 429, opts.message ?? `Rate limit exceeded; retry after ${retryAfterSeconds} s`, { retryable: true, details: opts.details });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** What a quota or floor refusal names: which limit, its value, and the variable that sets it. */
export interface QuotaDetails {
  quota: string;
  limit: number;
  variable: string;
  used?: number;
}

/**
 * An account quota (SKYLOFT_QUOTA_*) or schedule floor (SKYLOFT_MIN_*) refused a well-formed request: 422, with the
 * limit and its variable in the message and details, so a tenant knows what to ask the installation's operators for.
 */
export class QuotaExceededError extends AppError {
  constructor(message: string, details: QuotaDetails) {
    super('quota_exceeded', 422, message, { details });
  }
}

export class DependencyError extends AppError {
  constructor(dependency: string, message: string, cause?: unknown) {
    super('dependency_unavailable', 503, message, { details: { dependency }, retryable: true, cause });
  }
}
