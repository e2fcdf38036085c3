import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * The whole environment Skyloft reads, parsed once at start-up. Every variable the contract names is here;
 * nothing else in the code reads process.env (apart from SDKs reading their own standard variables).
 */
export const ROLES = ['api', 'worker', 'scheduler'] as const;
export type Role = (typeof ROLES)[number];

const masterKey = z
  .string()
  .refine((v) => Buffer.from(v, 'base64').length === 32 && /^[A-Za-z0-9+/]+={0,2}$/.test(v), {
    message: 'must be base64 of exactly 32 bytes (generate one with: openssl rand -base64 32)',
  });

/**
 * How many uids, from SKYLOFT_TERRAFORM_UID_BASE on, terraform runs may take (one per live work directory on the
 * host). Small enough to fit in a 65,536-uid user namespace; far more than the operations one host runs at once.
 */
export const TERRAFORM_UID_SPAN = 10_000;
/**
 * Above every login, system and /etc/subuid range in common use (systemd's documentation calls 1879048192-2147352575
 * unused) and below 2^31, which some tools still read as a signed number.
 */
export const DEFAULT_TERRAFORM_UID_BASE = 1_900_000_000;
/** The lowest uid a terraform run may take: every process of a run's uid is killed (uids.ts killAllOf). */
export const MIN_TERRAFORM_UID = 1_000_000;

const positiveInt = (fallback: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((v, ctx) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) {
        ctx.addIssue({ code: 'custom', message: `must be a positive integer, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

/** A per-account quota: a positive whole number, or `unlimited` (Infinity: not even counted). */
const quota = (fallback: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((v, ctx) => {
      if (v.trim() === 'unlimited') return Number.POSITIVE_INFINITY;
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) {
        ctx.addIssue({ code: 'custom', message: `must be a positive integer or unlimited, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const durationMs = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `must be a duration such as 90s, 30m or 2h, got "${v}"` });
        return z.NEVER;
      }
      return ms;
    });

/** `queue=n,queue=n` (positive whole numbers) as a record; queue names are checked where the queues are known. */
const perQueueCounts = (example: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const out: Record<string, number> = {};
      for (const part of (v ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
        const m = /^([a-z-]+)=(\d+)$/.exec(part);
        if (!m || Number(m[2]) < 1) {
          ctx.addIssue({ code: 'custom', message: `must look like ${example} (positive numbers); got "${v}"` });
          return z.NEVER;
        }
        out[m[1]!] = Number(m[2]);
      }
      return out;
    });

const envSchema = z.object({
  PORT: positiveInt(8080).refine((n) => n < 65536, 'must be a TCP port (1-65535)'),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// or postgresql:// URL')
    .optional(),
  REDIS_URL: z
    .string()
    .refine((v) => /^(rediss?|redis-sentinel|redis-cluster):\/\//.test(v), 'must be a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL')
    .default('redis://127.0.0.1:6379'),
  SKYLOFT_REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'may hold only letters, digits, _ and -')
    .default('skyloft'),
  SKYLOFT_MASTER_KEY: masterKey.optional(),
  SKYLOFT_MASTER_KEY_FILE: z.string().optional(),
  SKYLOFT_MASTER_KEY_PREVIOUS: masterKey.optional(),
  SKYLOFT_ROLES: z
    .string()
    .default(ROLES.join(','))
    .transform((v, ctx) => {
      const roles = [...new Set(v.split(',').map((r) => r.trim()).filter(Boolean))];
      const bad = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
      if (bad.length > 0 || roles.length === 0) {
        ctx.addIssue({ code: 'custom', message: `must be a comma list of ${ROLES.join(', ')}; got "${v}"` });
        return z.NEVER;
      }
      return roles as Role[];
    }),
  TERRAFORM_BIN: z.string().min(1).default('terraform'),
  SKYLOFT_PROVIDER_MIRROR: z.string().min(1).optional(),
  SKYLOFT_TERRAFORM_STEP_TIMEOUT: durationMs('30m'),
  SKYLOFT_TERRAFORM_UID_BASE: positiveInt(DEFAULT_TERRAFORM_UID_BASE).refine(
    (n) => n >= MIN_TERRAFORM_UID && n + TERRAFORM_UID_SPAN - 1 <= 0x7fffffff,
    `must be at least ${MIN_TERRAFORM_UID} (away from login users and the usual /etc/subuid ranges: every process of these uids is killed between runs) and fit ${TERRAFORM_UID_SPAN} uids below 2^31`,
  ),
  SKYLOFT_STATE_RETENTION: positiveInt(100),
  SKYLOFT_WORKER_CONCURRENCY: positiveInt(8),
  SKYLOFT_WORKER_QUEUES: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return undefined;
      const names = [...new Set(v.split(',').map((s) => s.trim()).filter(Boolean))];
      if (names.some((n) => !/^[a-z-]+$/.test(n))) {
        ctx.addIssue({ code: 'custom', message: `must be a comma list of queue names (provisioning, inventory, health, cost); got "${v}"` });
        return z.NEVER;
      }
      return names;
    }),
  SKYLOFT_ACCOUNT_CONCURRENCY: perQueueCounts('provisioning=4,inventory=8'),
  SKYLOFT_QUEUE_CONCURRENCY: perQueueCounts('inventory=8,cost=2'),
  SKYLOFT_RATE_LIMIT: positiveInt(600),
  SKYLOFT_QUOTA_CREDENTIALS: quota(100),
  SKYLOFT_QUOTA_RESOURCES: quota(1000),
  SKYLOFT_QUOTA_ACTIVE_OPERATIONS: quota(100),
  SKYLOFT_QUOTA_COST_COLLECTIONS_PER_HOUR: quota(20),
  SKYLOFT_MIN_INVENTORY_MINUTES: positiveInt(5).refine((n) => n <= 10_080, 'must be at most 10080 (a week)'),
  SKYLOFT_MIN_HEALTH_MINUTES: positiveInt(2).refine((n) => n <= 10_080, 'must be at most 10080 (a week)'),
  // At most a day: the default daily cost cron must always be allowed (it replaces a stored cron below the floor).
  SKYLOFT_MIN_COST_INTERVAL: durationMs('6h').refine((ms) => ms >= 60_000 && ms <= 86_400_000, 'must be from 1m to 24h'),
  SKYLOFT_HTTP_HEADERS_TIMEOUT: durationMs('20s'),
  SKYLOFT_HTTP_REQUEST_TIMEOUT: durationMs('2m'),
  SKYLOFT_STATE_MAX_BYTES: positiveInt(64 * 1024 * 1024),
  SKYLOFT_USER_LOCK_TTL: durationMs('2h'),
  SKYLOFT_HEALTH_SLOW_MS: positiveInt(2000),
  SKYLOFT_COST_LOOKBACK_DAYS: positiveInt(3).refine((n) => n <= 90, 'must be at most 90'),
  SKYLOFT_RETENTION_DAYS: positiveInt(90),
  SKYLOFT_KEEP_COMPLETED_JOBS: positiveInt(1000),
  SKYLOFT_KEEP_FAILED_JOBS: positiveInt(5000),
  SKYLOFT_COST_BACKFILL_DAYS: positiveInt(30).refine((n) => n <= 396, 'must be at most 396 (13 months)'),
  SKYLOFT_DASHBOARD_SESSION_TTL: durationMs('8h'),
  SKYLOFT_METRICS_ALLOW: z
    .string()
    .default('127.0.0.1,::1')
    .transform((v, ctx) => {
      // `none`: no address is trusted, /metrics needs SKYLOFT_METRICS_TOKEN or an installation key from everywhere.
      if (v.trim() === 'none') return [];
      const entries = v.split(',').map((a) => a.trim()).filter(Boolean);
      const bad = entries.filter((a) => !isAddressOrCidr(a));
      if (bad.length > 0) {
        ctx.addIssue({ code: 'custom', message: `must be a comma list of IP addresses or CIDRs (IPv4 or IPv6), e.g. 127.0.0.1,10.0.0.0/8,::1; bad: ${bad.join(', ')}` });
        return z.NEVER;
      }
      return entries;
    }),
  // A bearer token Prometheus may present to /metrics (compared in constant time); unset: none is accepted.
  SKYLOFT_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters (e.g. openssl rand -hex 32)').regex(/^\S+$/, 'must not contain spaces').optional(),
  SKYLOFT_ALLOWED_ENDPOINTS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const entries = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      const parsed = entries.map((s) => [s, parseAllowedEndpoint(s)] as const);
      const bad = parsed.filter(([, p]) => p === undefined).map(([s]) => s);
      if (bad.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: 'must be a comma list of origins (https://ec2.example.internal:8443: that scheme, host and port) or host patterns ' +
            `(ec2.example.internal, *.example.internal, 127.0.0.1, [::1]: that host on any port); bad: ${bad.join(', ')}`,
        });
        return z.NEVER;
      }
      return parsed.map(([, p]) => p!);
    }),
  SKYLOFT_AWS_HOST_IDENTITY: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .default('false')
    .transform((v) => v === 'true'),
  SKYLOFT_SHUTDOWN_TIMEOUT: durationMs('30s'),
  SKYLOFT_DATA_DIR: z.string().min(1).default('.data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SKYLOFT_LOG_FORMAT: z.enum(['json', 'pretty'], { error: 'must be json or pretty' }).optional(),
});

export interface Config {
  readonly http: {
    readonly port: number;
    readonly host: string;
    readonly rateLimitPerMinute: number;
    /** A client must send its request line and headers within this (slow-loris defence). */
    readonly headersTimeoutMs: number;
    /** ...and its whole request (body included) within this; also the limit of a socket with no traffic. */
    readonly requestTimeoutMs: number;
  };
  /** undefined means local mode: an embedded PostgreSQL under dataDir. */
  readonly databaseUrl: string | undefined;
  /** prefix is hash-tagged (`{skyloft}`) with a Redis Cluster, so every key of a queue lives in one slot, as BullMQ needs. */
  readonly redis: { readonly url: string; readonly prefix: string };
  /**
   * SKYLOFT_MASTER_KEY, or the trimmed content of SKYLOFT_MASTER_KEY_FILE (which keeps the key out of the process's
   * environment). undefined only in local mode before the generated key is loaded (see resolveMasterKeys).
   */
  readonly masterKey: string | undefined;
  readonly previousMasterKey: string | undefined;
  readonly roles: readonly Role[];
  readonly terraform: {
    readonly bin: string;
    /** A filesystem mirror of providers (air-gapped sites); unset = the public registry. */
    readonly providerMirror: string | undefined;
    readonly stepTimeoutMs: number;
    /**
     * The first of TERRAFORM_UID_SPAN uids a root worker runs terraform under, one per work directory (see
     * src/clouds/terraform/uids.ts). Unused when the worker is not root.
     */
    readonly uidBase: number;
  };
  /** State versions kept per resource. */
  readonly stateRetention: number;
  /** Jobs one worker process runs at once. */
  readonly workerConcurrency: number;
  /** The queues this worker process consumes (undefined: all); per-queue concurrency overrides. */
  readonly workerQueues: readonly string[] | undefined;
  readonly queueConcurrency: Readonly<Record<string, number>>;
  /** Jobs of one account running at once per queue, across every worker (fairness). */
  readonly accountConcurrency: Readonly<Record<string, number>>;
  /**
   * What one account may hold (SKYLOFT_QUOTA_*): credentials, live resources, unfinished operations (422 beyond),
   * and manual cost collections per hour (429 beyond: each one makes paid billing API calls).
   */
  readonly quotas: { readonly credentials: number; readonly resources: number; readonly activeOperations: number; readonly costCollectionsPerHour: number };
  /** The shortest schedule intervals an account may set (SKYLOFT_MIN_*): minutes, and the cost cron's shortest gap in ms. */
  readonly scheduleFloors: { readonly inventoryMinutes: number; readonly healthMinutes: number; readonly costIntervalMs: number };
  readonly stateMaxBytes: number;
  readonly userLockTtlMs: number;
  readonly healthSlowMs: number;
  /** Days a scheduled cost collection fetches again, and days fetched when a credential is registered. */
  readonly cost: { readonly lookbackDays: number; readonly backfillDays: number };
  /** Days of history kept: tombstones, finished sync and cost runs, health checks, operation logs. */
  readonly retentionDays: number;
  /** Finished job records BullMQ keeps per queue. */
  readonly jobRetention: { readonly completed: number; readonly failed: number };
  /** Lifetime of a /admin/queues dashboard session (fixed from sign-in, not sliding). */
  readonly dashboard: { readonly sessionTtlMs: number };
  /** Who may read /metrics besides installation keys: client addresses and CIDRs (SKYLOFT_METRICS_ALLOW), a bearer token (SKYLOFT_METRICS_TOKEN). */
  readonly metrics: { readonly allow: readonly string[]; readonly token: string | undefined };
  /**
   * Where a tenant's credential may point its endpoint overrides (SKYLOFT_ALLOWED_ENDPOINTS; local mode also allows
   * loopback). Enforced by src/shared/outbound.ts; the installation's own SDK variables are not subject to it.
   */
  readonly outbound: { readonly allowedEndpoints: readonly AllowedEndpoint[] };
  /** SKYLOFT_AWS_HOST_IDENTITY: AWS credentials may hold only a roleArn, assumed with the worker host's identity. */
  readonly awsHostIdentity: boolean;
  /** How long a SIGTERM/SIGINT stop may take in all (see src/shared/shutdown.ts); past it the process exits 1. */
  readonly shutdownTimeoutMs: number;
  readonly dataDir: string;
  readonly logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  /** undefined: pretty on a terminal, JSON otherwise (src/shared/logger.ts). */
  readonly logFormat: 'json' | 'pretty' | undefined;
}

export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws one ConfigError listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "unset", as in most twelve-factor tools.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  const keyFromFile = readMasterKeyFile(present, problems);
  if (present.DATABASE_URL && !present.SKYLOFT_MASTER_KEY && !present.SKYLOFT_MASTER_KEY_FILE) {
    problems.push(
      'SKYLOFT_MASTER_KEY: required whenever DATABASE_URL is set, or SKYLOFT_MASTER_KEY_FILE naming a file that holds ' +
        'it (generate one with: openssl rand -base64 32)',
    );
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  return Object.freeze({
    http: Object.freeze({
      port: e.PORT,
      host: e.HOST,
      rateLimitPerMinute: e.SKYLOFT_RATE_LIMIT,
      headersTimeoutMs: e.SKYLOFT_HTTP_HEADERS_TIMEOUT,
      // Node requires headersTimeout <= requestTimeout.
      requestTimeoutMs: Math.max(e.SKYLOFT_HTTP_REQUEST_TIMEOUT, e.SKYLOFT_HTTP_HEADERS_TIMEOUT),
    }),
    databaseUrl: e.DATABASE_URL,
    redis: Object.freeze({ url: e.REDIS_URL, prefix: e.REDIS_URL.startsWith('redis-cluster://') ? `{${e.SKYLOFT_REDIS_PREFIX}}` : e.SKYLOFT_REDIS_PREFIX }),
    masterKey: e.SKYLOFT_MASTER_KEY ?? keyFromFile,
    previousMasterKey: e.SKYLOFT_MASTER_KEY_PREVIOUS,
    roles: Object.freeze(e.SKYLOFT_ROLES),
    terraform: Object.freeze({
      bin: e.TERRAFORM_BIN,
      providerMirror: e.SKYLOFT_PROVIDER_MIRROR,
      stepTimeoutMs: e.SKYLOFT_TERRAFORM_STEP_TIMEOUT,
      uidBase: e.SKYLOFT_TERRAFORM_UID_BASE,
    }),
    stateRetention: e.SKYLOFT_STATE_RETENTION,
    workerConcurrency: e.SKYLOFT_WORKER_CONCURRENCY,
    workerQueues: e.SKYLOFT_WORKER_QUEUES,
    queueConcurrency: Object.freeze(e.SKYLOFT_QUEUE_CONCURRENCY),
    accountConcurrency: Object.freeze(e.SKYLOFT_ACCOUNT_CONCURRENCY),
    quotas: Object.freeze({
      credentials: e.SKYLOFT_QUOTA_CREDENTIALS,
      resources: e.SKYLOFT_QUOTA_RESOURCES,
      activeOperations: e.SKYLOFT_QUOTA_ACTIVE_OPERATIONS,
      costCollectionsPerHour: e.SKYLOFT_QUOTA_COST_COLLECTIONS_PER_HOUR,
    }),
    scheduleFloors: Object.freeze({
      inventoryMinutes: e.SKYLOFT_MIN_INVENTORY_MINUTES,
      healthMinutes: e.SKYLOFT_MIN_HEALTH_MINUTES,
      costIntervalMs: e.SKYLOFT_MIN_COST_INTERVAL,
    }),
    stateMaxBytes: e.SKYLOFT_STATE_MAX_BYTES,
    userLockTtlMs: e.SKYLOFT_USER_LOCK_TTL,
    healthSlowMs: e.SKYLOFT_HEALTH_SLOW_MS,
    cost: { lookbackDays: e.SKYLOFT_COST_LOOKBACK_DAYS, backfillDays: e.SKYLOFT_COST_BACKFILL_DAYS },
    retentionDays: e.SKYLOFT_RETENTION_DAYS,
    jobRetention: Object.freeze({ completed: e.SKYLOFT_KEEP_COMPLETED_JOBS, failed: e.SKYLOFT_KEEP_FAILED_JOBS }),
    dashboard: Object.freeze({ sessionTtlMs: e.SKYLOFT_DASHBOARD_SESSION_TTL }),
    metrics: Object.freeze({ allow: Object.freeze(e.SKYLOFT_METRICS_ALLOW), token: e.SKYLOFT_METRICS_TOKEN }),
    outbound: Object.freeze({ allowedEndpoints: Object.freeze(e.SKYLOFT_ALLOWED_ENDPOINTS) }),
    awsHostIdentity: e.SKYLOFT_AWS_HOST_IDENTITY,
    shutdownTimeoutMs: e.SKYLOFT_SHUTDOWN_TIMEOUT,
    dataDir: e.SKYLOFT_DATA_DIR,
    logLevel: e.LOG_LEVEL,
    logFormat: e.SKYLOFT_LOG_FORMAT,
  });
}

/**
 * The master key from SKYLOFT_MASTER_KEY_FILE (a Docker or Kubernetes secret file), trimmed and checked like
 * SKYLOFT_MASTER_KEY; a problem is added instead (never with the file's content in it).
 */
function readMasterKeyFile(env: Record<string, string | undefined>, problems: string[]): string | undefined {
  const file = env.SKYLOFT_MASTER_KEY_FILE;
  if (file === undefined) return undefined;
  if (env.SKYLOFT_MASTER_KEY !== undefined) {
    problems.push('SKYLOFT_MASTER_KEY_FILE: set either SKYLOFT_MASTER_KEY or SKYLOFT_MASTER_KEY_FILE, not both');
    return undefined;
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (e) {
    problems.push(`SKYLOFT_MASTER_KEY_FILE: cannot read "${file}" (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    return undefined;
  }
  const checked = masterKey.safeParse(text);
  if (!checked.success) {
    problems.push(`SKYLOFT_MASTER_KEY_FILE: the content of "${file}" ${checked.error.issues[0]?.message ?? 'is not a master key'}`);
    return undefined;
  }
  return checked.data;
}

/**
 * One SKYLOFT_ALLOWED_ENDPOINTS entry. An origin allows exactly that scheme, host and port; a host pattern allows that
 * host (with `*.`, any name under it, not the name itself) on any port over http or https. Hosts go through WHATWG URL
 * parsing, as the credentials' URLs do, so both sides compare in one spelling (lowercase, IPv4 dotted, no brackets).
 */
export type AllowedEndpoint = { readonly origin: string } | { readonly host: string; readonly subdomains: boolean };

function parseAllowedEndpoint(entry: string): AllowedEndpoint | undefined {
  try {
    if (entry.includes('://')) {
      const url = new URL(entry);
      const bare = !url.username && !url.password && url.pathname === '/' && !url.search && !url.hash;
      return /^https?:$/.test(url.protocol) && bare ? { origin: url.origin } : undefined;
    }
    const subdomains = entry.startsWith('*.');
    const rest = subdomains ? entry.slice(2) : entry;
    if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)$/.test(rest)) return undefined;
    const host = new URL(`http://${rest}/`).hostname.replace(/^\[|\]$/g, '').replace(/\.+$/, '');
    if (!host || (subdomains && isIP(host) !== 0)) return undefined;
    return { host, subdomains };
  } catch {
    return undefined;
  }
}

/** An IPv4 or IPv6 address, or one with a /prefix length that fits its family. */
function isAddressOrCidr(v: string): boolean {
  const [address = '', prefix, extra] = v.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** "90s", "30m", "2h", "1d" or plain milliseconds. */
export function parseDuration(v: string): number | undefined {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(v.trim());
  if (!m) return undefined;
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 'ms'] ?? 1;
  const ms = Number(m[1]) * unit;
  return ms > 0 ? ms : undefined;
}
