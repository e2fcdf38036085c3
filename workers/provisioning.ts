import { UnrecoverableError, type Job } from 'bullmq';
import * as tf from '../src/clouds/terraform/index.ts';
import type { Em } from '../src/db/orm.ts';
import { Credential } from '../src/modules/credentials/entity.ts';
import { terraformCloudEnv } from '../src/modules/provisioning/cloud-env.ts';
import { Operation, Resource } from '../src/modules/provisioning/entities.ts';
import { acquireLock, releaseLock, renewLease, StateLockedError } from '../src/modules/state/locks.ts';
import { holdsNoResources } from '../src/modules/provisioning/state-contents.ts';
import { assertStateProviders } from '../src/modules/state/providers.ts';
import { catalog } from '../src/queue/catalog.ts';
import { AppError } from '../src/shared/errors.ts';
import type { Runtime } from '../src/runtime.ts';
import { synthesizeStack, type StackInput } from '../stacks/index.ts';
import { OperationLog } from './operation-log.ts';
import { followSandboxOperation } from './sandbox-follow.ts';
import type { WorkerStateServer } from './state-server.ts';

const LEASE_MS = 30_000;
const RENEW_EVERY_MS = 10_000;
const CANCEL_POLL_MS = 1_000;

/** A failure that another attempt would repeat: the operation ends failed. */
class OperationFailed extends Error {}

/** Ends the operation canceled: the user asked, or the process is shutting down (then it is retried elsewhere). */
class Stopped extends Error {
  readonly why: 'canceled' | 'lease-lost' | 'shutdown';

  constructor(why: 'canceled' | 'lease-lost' | 'shutdown') {
    super(why);
    this.why = why;
  }
}

const RESOURCE_STATUS_WHILE = { apply: 'provisioning', update: 'updating', destroy: 'destroying' } as const;

/**
 * One provisioning operation as a step job: plan, then (auto-approved or approved) apply. Every step is idempotent
 * and terraform's state lives in Skyloft's backend, so a retry after a crash (a stalled job picked up by another
 * worker) re-plans against the state the dead attempt left and converges.
 */
export class ProvisioningProcessor {
  private readonly rt: Runtime;
  private readonly stateServer: WorkerStateServer;
  private readonly tempDir: string;

  constructor(rt: Runtime, stateServer: WorkerStateServer, tempDir: string) {
    this.rt = rt;
    this.stateServer = stateServer;
    this.tempDir = tempDir;
    const isolation = tf.isolationWarning();
    if (isolation) rt.log.warn(isolation);
  }

  /**
   * `signal` is BullMQ's: aborted when the worker shuts down (workers/job-runner.ts). The running terraform then gets
   * SIGINT (it saves its state), the lease is released below, and the job runner hands the job back to the queue.
   */
  process = async (job: Job, _token?: string, signal?: AbortSignal): Promise<void> => {
    const { operationId, phase } = catalog.provision.payload.parse(job.data);
    const em = this.rt.orm.em.fork();
    const op = await em.findOne(Operation, { id: operationId });
    if (!op || op.status === 'succeeded' || op.status === 'failed' || op.status === 'canceled' || op.status === 'awaiting_approval') return;
    if (phase === 'plan' && op.approvedAt) return; // approved: the apply-phase job does the work
    const resource = await em.findOneOrFail(Resource, { id: op.resourceId, accountId: op.accountId });
    if (op.cancelRequestedAt) return this.finish(em, op, resource, 'canceled', 'canceled before it started');

    const running = { status: 'running' as const, attempts: op.attempts + 1, startedAt: op.startedAt ?? new Date() };
    // Claimed only if nobody canceled it since it was read: a cancel, or a forget of its resource, settles a queued
    // operation in one transaction, and must not be undone by a worker that read it a moment before.
    if ((await em.nativeUpdate(Operation, { id: op.id, status: { $in: ['queued', 'running'] }, cancelRequestedAt: null }, running)) === 0) {
      await em.refresh(op);
      // A running operation asked to stop (its worker died) is still this job's to settle; a canceled one is settled.
      if (op.status === 'running') return this.finish(em, op, resource, 'canceled', 'canceled before it started');
      return;
    }
    Object.assign(op, running);
    resource.status = RESOURCE_STATUS_WHILE[op.kind];
    await em.flush();

    const lockId = `skyloft-operation-${op.id}`;
    const output = new OperationLog(this.rt.orm, op.id);
    try {
      await acquireLock(em, {
        resourceId: resource.id,
        accountId: resource.accountId,
        lockId,
        holder: 'worker',
        info: { ID: lockId, Operation: `Skyloft${op.kind}`, Who: `skyloft-worker@${process.pid}`, Info: `operation ${op.id}`, Version: '', Created: new Date().toISOString(), Path: '' },
        ttlMs: LEASE_MS,
        operationId: op.id,
      });
    } catch (e) {
      if (e instanceof StateLockedError) {
        output.append(`The state is locked by ${String(e.holderInfo.Who ?? 'someone')}; retrying later.\n`);
        await output.flush();
      }
      throw e; // a held lock is retryable: BullMQ backs off and tries again
    }

    const controller = new AbortController();
    const onShutdown = () => controller.abort(new Stopped('shutdown'));
    if (signal?.aborted) onShutdown();
    else signal?.addEventListener('abort', onShutdown, { once: true });
    const timers = [
      setInterval(() => {
        renewLease(this.rt.orm.em.fork(), resource.id, lockId, LEASE_MS).then(
          (held) => held || controller.abort(new Stopped('lease-lost')),
          () => {},
        );
      }, RENEW_EVERY_MS),
      setInterval(() => {
        this.rt.orm.em.fork().findOne(Operation, { id: op.id }, { fields: ['cancelRequestedAt'] }).then(
          (row) => row?.cancelRequestedAt && controller.abort(new Stopped('canceled')),
          () => {},
        );
      }, CANCEL_POLL_MS),
    ];
    const workdir = await tf.createWorkdir({ parent: this.tempDir, uidBase: this.rt.config.terraform.uidBase });
    try {
      await this.run(em, op, resource, phase, lockId, workdir, controller.signal, output);
    } catch (e) {
      await output.flush();
      const stopped = controller.signal.reason instanceof Stopped ? controller.signal.reason : undefined;
      if (stopped?.why === 'canceled') return this.finish(em, op, resource, 'canceled', 'canceled while running');
      if (stopped) throw new Error(`stopped: ${stopped.why}; the operation will be retried`);
      const final = e instanceof OperationFailed || (e instanceof AppError && !e.retryable && !(e instanceof tf.TerraformCanceledError));
      if (final) {
        await this.finish(em, op, resource, 'failed', (e as Error).message);
        throw new UnrecoverableError((e as Error).message);
      }
      throw e;
    } finally {
      timers.forEach(clearInterval);
      signal?.removeEventListener('abort', onShutdown);
      // The lock first: terraform has exited, and disposing of the work directory (ending its uid's processes,
      // removing its files) takes a moment in which a killed worker would leave the lock to lapse.
      await releaseLock(this.rt.orm.em.fork(), resource.id, lockId, 'worker').catch(() => {});
      await output.flush();
      await workdir.dispose();
    }
  };

  private async run(em: Em, op: Operation, resource: Resource, phase: 'plan' | 'apply', lockId: string, { dir, uid }: tf.Workdir, signal: AbortSignal, log: OperationLog) {
    // Under the lease, so no state write can come in between.
    if (op.kind === 'destroy' && holdsNoResources(await this.rt.state.latest(em, resource.id))) return this.destroyNothing(em, op, resource, log);
    const credential = resource.credentialId ? await em.findOne(Credential, { id: resource.credentialId, accountId: resource.accountId }) : null;
    if (!credential) throw new OperationFailed("The resource's credential was deleted");
    const cloud = terraformCloudEnv(credential, await this.rt.credentials.openSecret(em, credential), resource.region, this.rt.outbound);
    const { stackDir } = await synthesizeStack(await this.stackInput(em, op, resource, cloud.stack), dir);
    const grant = this.stateServer.grant({ accountId: resource.accountId, resourceId: resource.id, lockId });
    try {
      const opts: tf.StepOptions = {
        terraform: this.rt.config.terraform,
        workdir: dir,
        uid,
        env: { ...grant.env, ...cloud.env },
        signal,
        onOutput: (text) => log.append(text),
      };
      // terraform init installs every provider the stored state names: a state stored before the backend checked
      // them must not run (the lease is held, so nothing can be written in between).
      assertStateProviders(await this.rt.state.latest(em, resource.id), resource.provider);
      await tf.init(stackDir, opts);
      const planned = await tf.plan(stackDir, opts, { destroy: op.kind === 'destroy' });
      // Right after approval the new plan must be the one approved; a retry after a crash mid-apply (step 'apply')
      // re-plans against the partial state instead and converges.
      if (op.step === 'approval' && op.planSummary && JSON.stringify(op.planSummary) !== JSON.stringify(planned.summary)) {
        throw new OperationFailed(`The plan changed since it was approved (${JSON.stringify(op.planSummary)} then, ${JSON.stringify(planned.summary)} now); request the change again`);
      }
      op.planSummary = planned.summary;
      if (phase === 'plan' && !op.autoApprove) {
        Object.assign(op, { status: 'awaiting_approval', step: 'approval' });
        resource.status = resource.status === 'provisioning' ? 'pending' : 'active';
        await em.flush();
        return;
      }
      op.step = 'apply';
      await em.flush();
      if (planned.changes) {
        try {
          await tf.apply(stackDir, opts);
        } finally {
          // A failed state push leaves errored.tfstate: the only record of what was created. Push it again.
          await tf.pushErroredState(stackDir, opts).catch((e: unknown) => log.append(`errored.tfstate could not be pushed: ${String(e)}\n`));
        }
      }
      if (op.kind === 'destroy') {
        Object.assign(resource, { status: 'destroyed', destroyedAt: new Date(), outputs: {} });
      } else {
        // The outputs are in the state terraform just saved through our backend: no `terraform output` process.
        const state = await this.rt.state.latest(em, resource.id);
        const outputs = state ? (JSON.parse(state.toString('utf8')) as { outputs?: Record<string, { value: unknown }> }).outputs : undefined;
        Object.assign(resource, { status: 'active', outputs: tf.redactedOutputs(outputs ?? {}, opts), spec: op.spec });
      }
      await this.finish(em, op, resource, 'succeeded', null);
    } finally {
      grant.revoke();
    }
  }

  /**
   * A destroy of a resource whose state holds nothing (an apply that failed before creating anything, or never ran)
   * has nothing to ask the cloud: it ends destroyed without terraform, and without an approval (there is no change to
   * approve), so such a resource is never stuck behind a credential or a plan that cannot work.
   */
  private async destroyNothing(em: Em, op: Operation, resource: Resource, log: OperationLog) {
    log.append('The state holds no resources: nothing to destroy in the cloud. Terraform was not run.\n');
    this.rt.log.info({ operationId: op.id, resourceId: resource.id }, 'destroy of a resource whose state holds nothing: done without terraform');
    op.planSummary = { add: 0, change: 0, destroy: 0 };
    Object.assign(resource, { status: 'destroyed', destroyedAt: new Date(), outputs: {} });
    await this.finish(em, op, resource, 'succeeded', null);
  }

  private async stackInput(em: Em, op: Operation, resource: Resource, extra: Record<string, unknown>): Promise<StackInput> {
    const { networkResourceId, ...spec } = op.spec as { networkResourceId?: string };
    // Scoped to the resource's account: an id is never trusted to belong to it, even one the API checked.
    const network = networkResourceId ? await em.findOne(Resource, { id: networkResourceId, accountId: resource.accountId }) : null;
    if (networkResourceId && !network) throw new OperationFailed(`Network resource ${networkResourceId} does not exist in this account`);
    return {
      provider: resource.provider,
      type: resource.type,
      resourceId: resource.id,
      accountId: resource.accountId,
      name: resource.name,
      region: resource.region,
      spec,
      ...(network && { network: { outputs: network.outputs } }),
      ...extra,
    } as StackInput;
  }

  private async finish(em: Em, op: Operation, resource: Resource, status: 'succeeded' | 'failed' | 'canceled', error: string | null) {
    Object.assign(op, { status, step: 'done', error, finishedAt: new Date() });
    if (status === 'failed') resource.status = 'failed';
    if (status === 'canceled') {
      if (op.kind === 'apply' && op.attempts === 0) Object.assign(resource, { status: 'destroyed', destroyedAt: new Date() });
      else resource.status = op.kind === 'apply' ? 'failed' : 'active';
    }
    await em.flush();
    if (status === 'succeeded') await followSandboxOperation(this.rt, resource);
  }
}
