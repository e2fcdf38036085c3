import { UnrecoverableError, type Job } from 'bullmq';
import { ApiBudget } from '../src/clouds/budget.ts';
import { openCloud } from '../src/clouds/index.ts';
import { cloudDeps } from './clouds.ts';
import { Credential } from '../src/modules/credentials/entity.ts';
import { usableCredential } from '../src/modules/credentials/service.ts';
import { SyncRun } from '../src/modules/inventory/entities.ts';
import type { SyncService } from '../src/modules/inventory/sync.ts';
import { catalog } from '../src/queue/catalog.ts';
import type { Runtime } from '../src/runtime.ts';
import { AppError } from '../src/shared/errors.ts';
import { newId } from '../src/shared/ids.ts';

/**
 * The inventory queue's three jobs. The credential's secret is decrypted here, in the worker, for one job and
 * dropped with it; it never reaches Redis (payloads hold ids only) or a log.
 */
export class InventoryProcessor {
  private readonly rt: Runtime;
  private readonly sync: SyncService;
  private readonly budget: ApiBudget;

  constructor(rt: Runtime, sync: SyncService, budget: ApiBudget) {
    this.rt = rt;
    this.sync = sync;
    this.budget = budget;
  }

  private async reader(runId: string) {
    const em = this.rt.orm.em.fork();
    const run = await em.findOneOrFail(SyncRun, { id: runId });
    // Deleted since the run started: not retryable, so the run ends failed saying so.
    const credential = await usableCredential(em, run.accountId, run.credentialId);
    return (await openCloud(await this.rt.credentials.cloudInput(em, credential), cloudDeps(this.rt, this.budget))).inventory;
  }

  /** Whether this failure is final for the job: not retryable, or its last attempt. */
  private final(job: Job, e: unknown): boolean {
    const retryable = !(e instanceof AppError) || e.retryable;
    return !retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  }

  plan = async (job: Job): Promise<void> => {
    const { runId } = catalog['inventory-plan'].payload.parse(job.data);
    const em = this.rt.orm.em.fork();
    try {
      await this.sync.plan(em, runId, await this.reader(runId));
    } catch (e) {
      if (!this.final(job, e)) throw e;
      await this.sync.failRun(em, runId, e);
      throw new UnrecoverableError((e as Error).message);
    }
  };

  scope = async (job: Job): Promise<void> => {
    const { runId, region, kind } = catalog['inventory-scope'].payload.parse(job.data);
    const em = this.rt.orm.em.fork();
    try {
      await this.sync.syncScope(em, runId, { region, kind }, await this.reader(runId));
    } catch (e) {
      if (!this.final(job, e)) throw e;
      // Recorded as failed (stale, nothing tombstoned) and completed, so the run's parent job still finishes.
      await this.sync.failScope(em, runId, { region, kind }, e);
      this.rt.log.warn({ err: e, runId, region, kind }, 'inventory scope failed');
    }
  };

  /** From the credential's job scheduler: start a run (or join the one in progress). */
  scheduled = async (job: Job): Promise<void> => {
    const { credentialId } = catalog['scheduled-sync'].payload.parse(job.data);
    const em = this.rt.orm.em.fork();
    const credential = await em.findOne(Credential, { id: credentialId }, { fields: ['id', 'accountId'] });
    if (credential) await this.sync.startOne(em, credential.accountId, credential.id);
  };

  finish = async (job: Job): Promise<void> => {
    const { runId } = catalog['inventory-finish'].payload.parse(job.data);
    await this.sync.finish(this.rt.orm.em.fork(), runId);
  };
}

/** The health queue: one probe per credential, recorded under the check id the request answered. */
export class HealthProcessor {
  private readonly rt: Runtime;
  private readonly budget: ApiBudget;

  constructor(rt: Runtime, budget: ApiBudget) {
    this.rt = rt;
    this.budget = budget;
  }

  check = async (job: Job): Promise<void> => {
    const { credentialId, checkId } = catalog['health-check'].payload.parse(job.data);
    await this.run(credentialId, checkId);
  };

  /** From the credential's job scheduler. */
  scheduled = async (job: Job): Promise<void> => {
    const { credentialId } = catalog['scheduled-health'].payload.parse(job.data);
    await this.run(credentialId, newId());
  };

  private async run(credentialId: string, checkId: string): Promise<void> {
    const em = this.rt.orm.em.fork();
    const credential = await em.findOne(Credential, { id: credentialId });
    if (!credential) return; // deleted since
    const cloud = await openCloud(await this.rt.credentials.cloudInput(em, credential), cloudDeps(this.rt, this.budget));
    await this.rt.health.check(em, credential, checkId, cloud.health);
  }
}
