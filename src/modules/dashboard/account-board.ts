import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { JobCounts, JobStatus, QueueAdapterOptions } from '@bull-board/api/typings/app';
import type { Job, Queue } from 'bullmq';
import { accountOf, type AccountJobs, type JobState } from '../../queue/account-jobs.ts';
import type { QueueName } from '../../queue/catalog.ts';
import { ForbiddenError } from '../../shared/errors.ts';

/**
 * bull-board's BullMQ adapter as one account sees a queue: the counts, job lists, jobs and job schedulers are that
 * account's alone (those whose payload names it: src/queue/account-jobs.ts), anyone else's job is "not found", and
 * nothing that acts on the whole queue works. routes.ts decides which of bull-board's API calls an account's session
 * may make at all; this adapter is what makes bull-board's own handlers (the job list, a job's page, its logs)
 * answer with the account's jobs only, and a second fence should a call get through.
 */
export class AccountQueueAdapter extends BullMQAdapter {
  private readonly bull: Queue;
  private readonly queueName: QueueName;
  private readonly accountId: string;
  private readonly jobs: AccountJobs;

  constructor(queue: Queue, scope: { queueName: QueueName; accountId: string; jobs: AccountJobs }, options: Partial<QueueAdapterOptions>) {
    super(queue, options);
    this.bull = queue;
    this.queueName = scope.queueName;
    this.accountId = scope.accountId;
    this.jobs = scope.jobs;
  }

  /** The job when it is this account's, else undefined (bull-board answers 404 then). */
  override async getJob(id: string): Promise<Job | undefined> {
    const job = await this.bull.getJob(id);
    return job && accountOf(job.data) === this.accountId ? job : undefined;
  }

  override async getJobCounts(): Promise<JobCounts> {
    const ids = await this.jobs.ids(this.accountId, this.queueName);
    return Object.fromEntries(this.getJobStatuses().map((s) => [s, s === 'paused' ? 0 : ids[s].length])) as JobCounts;
  }

  /** Per status, the account's jobs at positions start..end of its own list (as BullMQ pages each status). */
  override async getJobs(statuses: JobStatus[], start = 0, end = -1): Promise<Job[]> {
    const ids = await this.jobs.ids(this.accountId, this.queueName);
    const page = statuses.flatMap((s) => (s === 'paused' ? [] : ids[s as JobState].slice(start, end < 0 ? undefined : end + 1)));
    // Read again, and checked again: the ids come from a shared pass up to a few seconds old.
    return (await Promise.all(page.map((id) => this.getJob(id)))).filter((job): job is Job => job !== undefined);
  }

  override async getJobLogs(id: string): Promise<string[]> {
    return (await this.getJob(id)) ? super.getJobLogs(id) : [];
  }

  override async getJobSchedulers() {
    return (await super.getJobSchedulers()).filter((s) => accountOf(s.template?.data) === this.accountId);
  }

  override async getJobSchedulersCount(): Promise<number> {
    return (await this.jobs.ids(this.accountId, this.queueName)).schedulers.length;
  }

  override async runJobSchedulerNow(id: string) {
    const scheduler = await this.bull.getJobScheduler(id);
    return scheduler && accountOf(scheduler.template?.data) === this.accountId ? super.runJobSchedulerNow(id) : 'not-found';
  }

  // The workers and the Redis server are the installation's: an account is told nothing about them.
  override async getWorkers() {
    return null;
  }
  override async getRedisInfo() {
    return null;
  }

  // Whole-queue actions and edits of jobs or schedulers are the installation key's (routes.ts refuses them first).
  override async clean(): Promise<void> {
    throw installationOnly();
  }
  override async promoteAll(): Promise<void> {
    throw installationOnly();
  }
  override async pause(): Promise<void> {
    throw installationOnly();
  }
  override async resume(): Promise<void> {
    throw installationOnly();
  }
  override async empty(): Promise<void> {
    throw installationOnly();
  }
  override async obliterate(): Promise<void> {
    throw installationOnly();
  }
  override addJob(): never {
    throw installationOnly();
  }
  override async removeJobScheduler(): Promise<boolean> {
    throw installationOnly();
  }
  override async updateJobScheduler(): Promise<never> {
    throw installationOnly();
  }
  override async setGlobalConcurrency(): Promise<void> {
    throw installationOnly();
  }
  override async setConfiguredRateLimit(): Promise<void> {
    throw installationOnly();
  }
  override async removeConfiguredRateLimit(): Promise<void> {
    throw installationOnly();
  }
  override async releaseActiveRateLimit(): Promise<void> {
    throw installationOnly();
  }
}

const installationOnly = () => new ForbiddenError('Only an installation key acts on a whole queue, adds jobs or edits jobs and job schedulers');
