import type { CostReader } from '../../clouds/ports.ts';
import type { Em } from '../../db/orm.ts';
import type { Queues } from '../../queue/catalog.ts';
import type { Actor } from '../../shared/actor.ts';
import type { Redis } from 'ioredis';
import { AppError, NotFoundError, RateLimitedError, ValidationError } from '../../shared/errors.ts';
import { isUuid, newId } from '../../shared/ids.ts';
import type { Logger } from '../../shared/logger.ts';
import { keysetPage, type Page, type PageRequest } from '../../shared/pagination.ts';
import { enqueueOrLeave } from '../../queue/enqueue.ts';
import { type Credential, credentialsInScope, historyOf } from '../credentials/index.ts';
import { CostRun } from './entities.ts';
import { addDays, daysBetween, today } from './days.ts';
import { CostWriter } from './store.ts';

/** Pages fetched ahead of the database: each waits as one COPY text string (about 650 KB for 10,000 lines). */
const MAX_QUEUED_PAGES = 4;

/** The longest range one collection may ask for: 13 months. */
export const MAX_RANGE_DAYS = 397;

export interface CostSettings {
  /** Days before today a scheduled collection fetches again (the clouds restate recent days). */
  lookbackDays: number;
  /** Days fetched when a credential is registered. */
  backfillDays: number;
}

/** SKYLOFT_QUOTA_COST_COLLECTIONS_PER_HOUR, counted in Redis (shared by every api process). */
export interface ManualCollectionLimit {
  redis: Redis;
  prefix: string;
  perHour: number;
}

/**
 * Cost collection runs. A run is a row first (queued), then a job; the worker runs one collection per credential at
 * a time (a unique index on running runs), because a run replaces the days it fetched. Every paid request is
 * counted on the run, also when it fails.
 */
export class CostService {
  private readonly queues: Queues;
  private readonly log: Logger;
  readonly settings: CostSettings;
  private readonly manualLimit: ManualCollectionLimit | undefined;

  constructor(queues: Queues, log: Logger, settings: CostSettings, manualLimit?: ManualCollectionLimit) {
    this.queues = queues;
    this.log = log;
    this.settings = settings;
    this.manualLimit = manualLimit;
  }

  /** POST /v1/costs/collect: one run per credential in scope over [from, to) (default: the scheduled window). */
  async request(em: Em, actor: Actor, body: { credentialId?: string; from?: string; to?: string }): Promise<string[]> {
    const range = this.checkRange(body.from ?? addDays(today(), -this.settings.lookbackDays), body.to ?? addDays(today(), 1));
    const credentials = await credentialsInScope(em, actor.accountId, body.credentialId);
    await this.takeManualCollections(actor.accountId, credentials.length);
    const runIds: string[] = [];
    for (const c of credentials) {
      runIds.push(await this.start(em, c, 'manual', range, actor.userId));
    }
    return runIds;
  }

  /**
   * Every manual collection makes paid billing API calls, so by hand an account could bypass the cost schedule's
   * floor: it may start SKYLOFT_QUOTA_COST_COLLECTIONS_PER_HOUR of them (one per credential in scope) per clock hour.
   * INCRBY is atomic, so concurrent requests at the limit cannot both pass; a refused request gives its count back and
   * answers 429 with Retry-After before anything is written.
   */
  private async takeManualCollections(accountId: string, runs: number): Promise<void> {
    if (!this.manualLimit || runs === 0 || this.manualLimit.perHour === Number.POSITIVE_INFINITY) return;
    const { redis, prefix, perHour } = this.manualLimit;
    const hour = 3_600_000;
    const now = Date.now();
    const windowStart = now - (now % hour);
    const key = `${prefix}:quota:cost-collections:${accountId}:${windowStart}`;
    const replies = (await redis.multi().incrby(key, runs).pexpire(key, hour * 2).exec()) ?? [];
    const used = Number(replies[0]?.[1]);
    if (used <= perHour) return;
    await redis.decrby(key, runs);
    const retryAfter = Math.max(1, Math.ceil((windowStart + hour - now) / 1000));
    throw new RateLimitedError(retryAfter, {
      code: 'quota_exceeded',
      message: `This account may start ${perHour} manual cost collections per hour (SKYLOFT_QUOTA_COST_COLLECTIONS_PER_HOUR; one per credential in scope) and has started ${used - runs}; retry after ${retryAfter} s`,
      details: { quota: 'costCollectionsPerHour', limit: perHour, used: used - runs, variable: 'SKYLOFT_QUOTA_COST_COLLECTIONS_PER_HOUR' },
    });
  }

  /** The window a trigger fetches: the last few days (scheduled) or the backfill (first connection), through today. */
  windowFor(trigger: 'backfill' | 'scheduled'): { from: string; to: string } {
    const days = trigger === 'backfill' ? this.settings.backfillDays : this.settings.lookbackDays;
    return { from: addDays(today(), -days), to: addDays(today(), 1) };
  }

  async start(em: Em, credential: Pick<Credential, 'id' | 'accountId'>, trigger: CostRun['trigger'], range: { from: string; to: string }, userId: string | null = null): Promise<string> {
    const run = em.create(CostRun, {
      id: newId(),
      accountId: credential.accountId,
      credentialId: credential.id,
      trigger,
      status: 'queued',
      rangeFrom: range.from,
      rangeTo: range.to,
      notices: [],
      createdBy: userId,
    });
    await em.flush();
    await enqueueOrLeave(this.queues, this.log, 'cost-collect', { runId: run.id, accountId: run.accountId }, 'the reconciler');
    return run.id;
  }

  /**
   * Claims the run for this attempt: false when another collection of the credential is running (the caller waits
   * and tries again). A run already `running` is this job's own earlier attempt and is taken over.
   */
  async claim(em: Em, runId: string): Promise<CostRun | null> {
    try {
      const claimed = await em.nativeUpdate(CostRun, { id: runId, status: { $in: ['queued', 'running'] } }, { status: 'running', startedAt: new Date() });
      if (claimed === 0) return null;
    } catch (err) {
      if ((err as { code?: string }).code === '23505' || (err as Error).name === 'UniqueConstraintViolationException') return null;
      throw err;
    }
    return em.findOneOrFail(CostRun, { id: runId }, { refresh: true });
  }

  /** Whether a run still waits to be collected (a job for a finished or deleted run does nothing). */
  async pending(em: Em, runId: string): Promise<boolean> {
    return (await em.count(CostRun, { id: runId, status: { $in: ['queued', 'running'] } })) > 0;
  }

  /**
   * One attempt: every page of the cloud's answer staged as it arrives (fetching goes on while up to
   * MAX_QUEUED_PAGES pages wait for the database), then the fetched days replaced in one transaction. Paid requests and notices are saved even when the
   * attempt fails; a failed attempt changes no cost data.
   */
  async collect(em: Em, run: CostRun, provider: string, reader: CostReader, signal?: AbortSignal): Promise<void> {
    const range = { from: run.rangeFrom, to: run.rangeTo };
    const pool = await em.getConnection().getNativeClient();
    const writer = await CostWriter.open(pool, { accountId: run.accountId, credentialId: run.credentialId, provider }, range);
    let paid = 0;
    const notices: string[] = [];
    let lines = 0;
    let stored = 0;
    let committed = false;
    const started = performance.now();
    try {
      const progress = { paidRequest: () => void paid++, notice: (m: string) => void (notices.includes(m) || notices.push(m)) };
      const queued: Promise<void>[] = [];
      for await (const page of reader.collect(range, progress, signal)) {
        lines += page.length;
        const next = writer.write(page).then((n) => void (stored += n));
        next.catch(() => {}); // awaited below; a failed fetch meanwhile must not leave it unhandled
        queued.push(next);
        if (queued.length > MAX_QUEUED_PAGES) await queued.shift();
      }
      for (const q of queued) await q;
      const fetched = performance.now();
      committed = true;
      await writer.commit();
      this.log.info({ runId: run.id, lines, stored, fetchMs: Math.round(fetched - started), storeMs: Math.round(performance.now() - fetched) }, 'cost collection stored');
    } finally {
      if (!committed) await writer.abort().catch(() => {});
      await em.getConnection().execute(
        `update cost_runs set paid_requests = paid_requests + ?, notices = ?::jsonb, lines = ?, updated_at = now() where id = ?`,
        [paid, JSON.stringify(notices), lines, run.id],
      );
    }
    await em.nativeUpdate(CostRun, { id: run.id }, { status: 'succeeded', daysFetched: daysBetween(range.from, range.to), error: null, finishedAt: new Date() });
  }

  async fail(em: Em, runId: string, error: unknown): Promise<void> {
    const message = error instanceof AppError ? error.message : 'internal error while collecting';
    await em.nativeUpdate(CostRun, { id: runId, status: { $in: ['queued', 'running'] } }, { status: 'failed', error: message, finishedAt: new Date() });
  }

  /** Runs of deleted credentials only with include=deleted (history). */
  async listRuns(em: Em, accountId: string, page: PageRequest, credentialId?: string, includeDeleted = false): Promise<Page<CostRun>> {
    const credential = await historyOf(em, accountId, credentialId, includeDeleted);
    return keysetPage(page, (idBelow, take) =>
      em.find(CostRun, { accountId, ...credential, ...(idBelow && { id: { $lt: idBelow } }) }, { orderBy: { id: 'desc' }, limit: take }),
    );
  }

  async getRun(em: Em, accountId: string, id: string): Promise<CostRun> {
    const run = isUuid(id) ? await em.findOne(CostRun, { id, accountId }) : null;
    if (!run) throw new NotFoundError('Cost run', id);
    return run;
  }

  private checkRange(from: string, to: string): { from: string; to: string } {
    if (from >= to) throw new ValidationError(`'from' (${from}) must be before 'to' (${to}); 'to' is exclusive`);
    if (daysBetween(from, to) > MAX_RANGE_DAYS) throw new ValidationError(`A collection covers at most ${MAX_RANGE_DAYS} days (13 months); ${from} to ${to} is ${daysBetween(from, to)}`);
    if (to > addDays(today(), 1)) throw new ValidationError(`'to' (${to}) is after tomorrow: there is no cost for future days`);
    if (from < addDays(today(), -MAX_RANGE_DAYS)) throw new ValidationError(`'from' (${from}) is more than 13 months ago: the clouds keep no cost data that old`);
    return { from, to };
  }
}
