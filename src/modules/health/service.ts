import { sql } from 'kysely';
import { CloudAuthError, CloudThrottledError, type HealthProbe } from '../../clouds/ports.ts';
import type { Em } from '../../db/orm.ts';
import type { Queues } from '../../queue/catalog.ts';
import { AppError } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';
import type { Logger } from '../../shared/logger.ts';
import { keysetPage, type Page, type PageRequest } from '../../shared/pagination.ts';
import { enqueueOrLeave } from '../../queue/enqueue.ts';
import { type Credential, credentialOf, credentialsInScope } from '../credentials/index.ts';
import { HealthCheck } from './entity.ts';

/** Checks kept per credential; older ones are pruned as new ones arrive. */
export const HEALTH_HISTORY_LIMIT = 500;

/** Start-up re-checks of one credential within this long of each other are one (several processes starting together). */
export const RECHECK_DEDUPE_MS = 60_000;

/**
 * Each credential's API health: one cheap authenticated call, timed. healthy; degraded when slower than
 * SKYLOFT_HEALTH_SLOW_MS or throttled; error when the cloud refuses the credential or cannot be reached.
 */
export class HealthService {
  private readonly queues: Queues;
  private readonly log: Logger;
  private readonly slowMs: number;

  constructor(queues: Queues, log: Logger, slowMs: number) {
    this.queues = queues;
    this.log = log;
    this.slowMs = slowMs;
  }

  /** Queues one check per credential (all of the account's, or one); answers the check ids. */
  async request(em: Em, accountId: string, credentialId?: string): Promise<string[]> {
    const ids: string[] = [];
    for (const c of await credentialsInScope(em, accountId, credentialId)) ids.push(await this.enqueue(c));
    return ids;
  }

  /** Best effort: a missed check is repeated by the schedule; it never fails the request that asked for it. */
  async enqueue(credential: { id: string; accountId: string }): Promise<string> {
    const credentialId = credential.id;
    const checkId = newId();
    await enqueueOrLeave(this.queues, this.log, 'health-check', { credentialId, checkId, accountId: credential.accountId }, 'the schedule');
    return checkId;
  }

  /**
   * At start-up: one new check of every live credential whose latest check failed, so a fix that needed a restart
   * (a CA in NODE_EXTRA_CA_CERTS, SKYLOFT_ALLOWED_ENDPOINTS) shows at once instead of the old error until the next
   * scheduled or manual check (issue 19, item 10). Processes starting together (the worker and scheduler roles of
   * one process, or a fleet of replicas) add one job per credential: BullMQ drops the same deduplication id for
   * RECHECK_DEDUPE_MS. Answers how many credentials were due.
   */
  async recheckFailed(em: Em): Promise<number> {
    const due = await em.getConnection().execute<{ credential_id: string; account_id: string }[]>(
      `select h.credential_id, h.account_id
         from (select distinct on (credential_id) credential_id, account_id, status from health_checks order by credential_id, id desc) h
         join credentials c on c.id = h.credential_id and c.account_id = h.account_id
        where h.status = 'error' and c.deleted_at is null`,
    );
    for (const row of due) {
      const payload = { credentialId: row.credential_id, checkId: newId(), accountId: row.account_id };
      await this.queues.add('health-check', payload, { deduplication: { id: `recheck_${row.credential_id}`, ttl: RECHECK_DEDUPE_MS } });
    }
    return due.length;
  }

  /** Runs the probe and records the result under `checkId` (a retried job records it once). */
  async check(em: Em, credential: Credential, checkId: string, probe: HealthProbe): Promise<HealthCheck> {
    const started = performance.now();
    let status: HealthCheck['status'] = 'healthy';
    let throttled = false;
    let errorMessage: string | null = null;
    try {
      await probe.probe(AbortSignal.timeout(Math.max(10_000, this.slowMs * 5)));
      if (performance.now() - started > this.slowMs) {
        status = 'degraded';
        errorMessage = `answered in more than ${this.slowMs} ms`;
      }
    } catch (e) {
      throttled = e instanceof CloudThrottledError;
      status = throttled ? 'degraded' : 'error';
      errorMessage = e instanceof AppError ? e.message : 'the check failed';
      if (!(e instanceof AppError)) this.log.warn({ err: e, credentialId: credential.id }, 'health probe failed unexpectedly');
      if (e instanceof CloudAuthError) errorMessage = `authentication refused: ${e.message}`;
    }
    // An upsert, not create + flush: a retried job records its check once, under the same id.
    const row = await em.upsert(HealthCheck, {
      id: checkId,
      accountId: credential.accountId,
      credentialId: credential.id,
      status,
      responseTimeMs: Math.round(performance.now() - started),
      throttled,
      errorMessage,
      checkedAt: new Date(),
    });
    await em.getConnection().execute(
      `delete from health_checks where credential_id = ? and id not in
         (select id from health_checks where credential_id = ? order by id desc limit ?)`,
      [credential.id, credential.id, HEALTH_HISTORY_LIMIT],
    );
    return row;
  }

  /** The newest check of every live credential of the account (deleted ones too with includeDeleted: their history). */
  async latest(em: Em, accountId: string, includeDeleted = false): Promise<HealthCheck[]> {
    const live = includeDeleted ? sql`` : sql`and credential_id in (select id from credentials where account_id = ${accountId} and deleted_at is null)`;
    const { rows } = await sql<{ id: string }>`
      select distinct on (credential_id) id from health_checks where account_id = ${accountId} ${live}
       order by credential_id, id desc`.execute(em.getKysely());
    return rows.length === 0 ? [] : em.find(HealthCheck, { id: { $in: rows.map((r) => r.id) } }, { orderBy: { credentialId: 'asc' } });
  }

  /** A credential's past checks; a deleted credential's (its history) only with includeDeleted, else 404. */
  async history(em: Em, accountId: string, credentialId: string, page: PageRequest, includeDeleted = false): Promise<Page<HealthCheck>> {
    await credentialOf(em, accountId, credentialId, includeDeleted);
    return keysetPage(page, (idBelow, take) =>
      em.find(HealthCheck, { credentialId, ...(idBelow && { id: { $lt: idBelow } }) }, { orderBy: { id: 'desc' }, limit: take }),
    );
  }
}
