import { DelayedError, type Job } from 'bullmq';
import type { ApiBudget } from '../src/clouds/budget.ts';
import { openCloud } from '../src/clouds/index.ts';
import { cloudDeps } from './clouds.ts';
import type { CostService } from '../src/modules/cost/index.ts';
import { Credential, usableCredential } from '../src/modules/credentials/index.ts';
import { catalog } from '../src/queue/catalog.ts';
import type { Runtime } from '../src/deps.ts';
import type { JobHandler } from './job-runner.ts';

/** How long a collection waits before trying again while another one of the same credential runs. */
const BUSY_RETRY_MS = 5_000;

/**
 * The cost queue. One collection per credential at a time (the run replaces the days it fetches); the secret is
 * decrypted for one job and dropped with it.
 */
export class CostProcessor {
  private readonly rt: Runtime;
  private readonly cost: CostService;
  private readonly budget: ApiBudget;

  constructor(rt: Runtime, cost: CostService, budget: ApiBudget) {
    this.rt = rt;
    this.cost = cost;
    this.budget = budget;
  }

  /**
   * `signal`: the worker is shutting down; the collection stops and the job runner hands the job back. A failure that
   * is final (workers/job-runner.ts, settling: the credential was deleted since the run was queued, or the last
   * attempt) ends the run failed saying so.
   */
  collect: JobHandler = {
    run: async (job, token, signal) => {
      const { runId } = catalog['cost-collect'].payload.parse(job.data);
      const em = this.rt.orm.em.fork();
      if (!(await this.cost.pending(em, runId))) return; // finished, or purged with its credential
      const run = await this.cost.claim(em, runId);
      if (!run) {
        // Another collection of this credential is running: wait, without spending an attempt.
        await job.moveToDelayed(Date.now() + BUSY_RETRY_MS, token);
        throw new DelayedError();
      }
      const credential = await usableCredential(em, run.accountId, run.credentialId);
      const cloud = await openCloud(await this.rt.credentials.cloudInput(em, credential), cloudDeps(this.rt, this.budget));
      await this.cost.collect(em, run, credential.provider, cloud.cost, signal);
    },
    failed: async (job, error) => {
      const { runId } = catalog['cost-collect'].payload.parse(job.data);
      await this.cost.fail(this.rt.orm.em.fork(), runId, error);
      this.rt.log.warn({ err: error, runId }, 'cost collection failed');
    },
  };

  /** From the credential's job scheduler: collect the days that can still change. */
  scheduled = async (job: Job): Promise<void> => {
    const { credentialId } = catalog['scheduled-cost'].payload.parse(job.data);
    const em = this.rt.orm.em.fork();
    const credential = await em.findOne(Credential, { id: credentialId }, { fields: ['id', 'accountId'] });
    if (credential) await this.cost.start(em, credential, 'scheduled', this.cost.windowFor('scheduled'));
  };
}
