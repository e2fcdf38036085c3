import { DependencyError } from '../shared/errors.ts';
import type { QueueCounts } from '../shared/metrics.ts';
import { withTimeout } from '../shared/timeout.ts';
import { QUEUE_NAMES, type QueueName, type Queues } from './catalog.ts';

/**
 * Which account each job works for, for the views that show an account its own jobs only: GET /v1/queues and the
 * queue dashboard of an account's session. A job belongs to the account its payload names (`accountId`, set by every
 * producer: src/queue/catalog.ts); a job naming none (queued before the field existed) is the installation's alone.
 *
 * How: the queues are shared by every account, and BullMQ keeps no per-account index, so the jobs are scanned. One
 * pass reads, per queue and state (and the job schedulers), the ids of the newest SCAN_LIMIT jobs and the account each
 * payload names, in a Lua script over chunks of 1,000 (Redis is never blocked for more than a couple of milliseconds),
 * and returns only ids and account ids, never payloads. The pass is shared: it is made at most once per TTL_MS per
 * process, whoever asks and however often, so its cost does not grow with callers (a hostile account polling cannot
 * make Redis scan more), only with the jobs kept, which SKYLOFT_KEEP_COMPLETED_JOBS / SKYLOFT_KEEP_FAILED_JOBS bound
 * for finished jobs. Counters per account were the alternative: BullMQ moves jobs between states inside its own
 * scripts, so they could only be kept from its event stream, which is capped and would drift after any restart.
 *
 * The pass is an index, never an authority: before a job is shown or acted on, its own payload is read again
 * (accountOfJob), so a stale pass can hide a job for a moment but never show or hand over another account's.
 */
export const JOB_STATES = ['active', 'waiting', 'waiting-children', 'prioritized', 'completed', 'failed', 'delayed'] as const;
export type JobState = (typeof JOB_STATES)[number];
/** The job states, and `schedulers`: the job schedulers whose template names the account. */
export type Listing = JobState | 'schedulers';
type Ids = Record<Listing, string[]>;

/** BullMQ's key per listing: `wait` and `active` are lists (newest at the head), the rest sorted sets. */
const KEYS: Record<Listing, string> = {
  active: 'active',
  waiting: 'wait',
  'waiting-children': 'waiting-children',
  prioritized: 'prioritized',
  completed: 'completed',
  failed: 'failed',
  delayed: 'delayed',
  schedulers: 'repeat',
};

/** Jobs looked at per queue and state, newest first (as BullMQ and bull-board list them). */
export const SCAN_LIMIT = 10_000;
const CHUNK = 1_000;
/** How old a shared pass may be when it is used. */
export const TTL_MS = 2_000;

/**
 * KEYS[1]: the queue's key prefix (`<prefix>:<queue>:`); ARGV: the listing's key, first and last index. Answers
 * (id, account) pairs, '' for a job naming no account. Payloads are flat JSON objects whose accountId matches
 * ACCOUNT_ID (catalog.ts): `"accountId":"` can only be that key there, never text inside another value (a quote in
 * a JSON string is always escaped). Job hashes are `<prefix>:<queue>:<id>`, schedulers' `<prefix>:<queue>:repeat:<id>`.
 */
const SCAN = `
local prefix, listing = KEYS[1], ARGV[1]
local key = prefix .. listing
local ids
if listing == 'wait' or listing == 'active' then
  ids = redis.call('LRANGE', key, ARGV[2], ARGV[3])
else
  ids = redis.call('ZREVRANGE', key, ARGV[2], ARGV[3])
end
local hashes = listing == 'repeat' and (key .. ':') or prefix
local out = {}
for _, id in ipairs(ids) do
  local data = redis.call('HGET', hashes .. id, 'data')
  out[#out + 1] = id
  out[#out + 1] = (data and string.match(data, '"accountId":"([%w_-]+)"')) or ''
end
return out`;

/** The account a job (or a scheduler's template: pass its data) works for; null for the installation's own. */
export function accountOf(data: unknown): string | null {
  const id = typeof data === 'object' && data !== null ? (data as { accountId?: unknown }).accountId : undefined;
  return typeof id === 'string' && id !== '' ? id : null;
}

interface Pass {
  byAccount: Map<string, Map<QueueName, Ids>>;
  paused: Map<QueueName, boolean>;
}

const emptyIds = (): Ids => ({ active: [], waiting: [], 'waiting-children': [], prioritized: [], completed: [], failed: [], delayed: [], schedulers: [] });

export class AccountJobs {
  private readonly queues: Queues;
  private current: { at: number; value: Promise<Pass> } | undefined;

  constructor(queues: Queues) {
    this.queues = queues;
  }

  /** One account's job and scheduler ids in one queue, newest first, from a pass at most TTL_MS old. */
  async ids(accountId: string, queue: QueueName): Promise<Ids> {
    return (await this.pass()).byAccount.get(accountId)?.get(queue) ?? emptyIds();
  }

  /** GET /v1/queues for one account: its jobs per queue, and whether each queue is paused (that is the installation's). */
  async counts(accountId: string, timeoutMs: number): Promise<QueueCounts[]> {
    const pass = this.pass();
    try {
      const { byAccount, paused } = await withTimeout(pass, timeoutMs, 'Redis');
      return QUEUE_NAMES.map((name) => {
        const ids = byAccount.get(accountId)?.get(name) ?? emptyIds();
        return {
          name,
          // As the installation's counts (src/queue/counts.ts): ready to run is the wait list and the prioritized set.
          waiting: ids.waiting.length + ids.prioritized.length,
          active: ids.active.length,
          delayed: ids.delayed.length,
          failed: ids.failed.length,
          completed: ids.completed.length,
          paused: paused.get(name) ?? false,
        };
      });
    } catch (e) {
      pass.catch(() => {});
      throw new DependencyError('redis', `Redis did not answer within ${timeoutMs} ms; queue counts are unavailable, try again shortly`, e);
    }
  }

  /** Not shared, not cached: one account's ids in one listing of one queue now (for acting on all of them). */
  async scan(queue: QueueName, listing: Listing, accountId: string): Promise<string[]> {
    return (await this.read(queue, listing)).filter(([, account]) => account === accountId).map(([id]) => id);
  }

  private pass(): Promise<Pass> {
    const now = Date.now();
    if (!this.current || now - this.current.at > TTL_MS) {
      const value = this.load();
      const current = { at: now, value };
      this.current = current;
      // A failed pass is not kept: the next caller tries again.
      value.catch(() => {
        if (this.current === current) this.current = undefined;
      });
    }
    return this.current.value;
  }

  private async load(): Promise<Pass> {
    const byAccount = new Map<string, Map<QueueName, Ids>>();
    const paused = new Map<QueueName, boolean>();
    const listings = Object.keys(KEYS) as Listing[];
    await Promise.all(
      QUEUE_NAMES.flatMap((queue) => [
        this.queues.get(queue).isPaused().then((p) => void paused.set(queue, p)),
        ...listings.map(async (listing) => {
          for (const [id, account] of await this.read(queue, listing)) {
            if (!account) continue;
            let perQueue = byAccount.get(account);
            if (!perQueue) byAccount.set(account, (perQueue = new Map()));
            let ids = perQueue.get(queue);
            if (!ids) perQueue.set(queue, (ids = emptyIds()));
            ids[listing].push(id);
          }
        }),
      ]),
    );
    return { byAccount, paused };
  }

  /** (id, account) of the newest SCAN_LIMIT entries of one listing, chunk by chunk; an id seen twice (moved while read) once. */
  private async read(queue: QueueName, listing: Listing): Promise<[string, string][]> {
    const prefix = `${this.queues.prefix}:${queue}:`;
    const seen = new Map<string, string>();
    for (let first = 0; first < SCAN_LIMIT; first += CHUNK) {
      const last = Math.min(first + CHUNK, SCAN_LIMIT) - 1;
      const flat = (await this.queues.connection.eval(SCAN, 1, prefix, KEYS[listing], first, last)) as string[];
      for (let i = 0; i < flat.length; i += 2) if (!seen.has(flat[i]!)) seen.set(flat[i]!, flat[i + 1]!);
      if (flat.length / 2 < last - first + 1) break;
    }
    return [...seen];
  }
}

const perQueues = new WeakMap<Queues, AccountJobs>();
/** The one AccountJobs of a Queues (so every route of a process shares its passes). */
export function accountJobs(queues: Queues): AccountJobs {
  let found = perQueues.get(queues);
  if (!found) perQueues.set(queues, (found = new AccountJobs(queues)));
  return found;
}
