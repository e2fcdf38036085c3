import type { Job } from 'bullmq';
import { ApiBudget } from '../src/clouds/budget.ts';
import { openCloud } from '../src/clouds/index.ts';
import { cloudDeps } from './clouds.ts';
import { Credential, usableCredential } from '../src/modules/credentials/index.ts';
import { SyncRun, type SyncService } from '../src/modules/inventory/index.ts';
import { catalog } from '../src/queue/catalog.ts';
import type { Runtime } from '../src/deps.ts';
import { newId } from '../src/shared/ids.ts';
import type { JobHandler } from './job-runner.ts';

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

  /** A final failure (workers/job-runner.ts, settling) ends the run failed. */
  plan: JobHandler = {
    run: async (job) => {
      const { runId } = catalog['inventory-plan'].payload.parse(job.data);
      await this.sync.plan(this.rt.orm.em.fork(), runId, await this.reader(runId));
    },
    failed: async (job, error) => {
      const { runId } = catalog['inventory-plan'].payload.parse(job.data);
      await this.sync.failRun(this.rt.orm.em.fork(), runId, error);
    },
  };

  /** A final failure is recorded on the scope (stale, nothing tombstoned) and completes, so the run's parent job still finishes. */
  scope: JobHandler = {
    run: async (job) => {
      const { runId, region, kind } = catalog['inventory-scope'].payload.parse(job.data);
      await this.sync.syncScope(this.rt.orm.em.fork(), runId, { region, kind }, await this.reader(runId));
    },
    failed: async (job, error) => {
      const { runId, region, kind } = catalog['inventory-scope'].payload.parse(job.data);
      await this.sync.failScope(this.rt.orm.em.fork(), runId, { region, kind }, error);
      this.rt.log.warn({ err: error, runId, region, kind }, 'inventory scope failed');
      return 'completed';
    },
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
