import type { EngineRun, InfrastructureEngine, StackRequest } from '../../clouds/engine.ts';
import type { Em, Orm } from '../../db/orm.ts';
import { AppError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import type { OutboundGuard } from '../../shared/outbound.ts';
import { Credential, type CredentialService } from '../credentials/index.ts';
import { StateLockedError, type StateStore, acquireLock, assertStateProviders, releaseLock, renewLease } from '../state/index.ts';
import { terraformCloudEnv } from './cloud-env.ts';
import { Operation, Resource } from './entities.ts';
import { OperationLog } from './operation-log.ts';
import { holdsNoResources } from './state-contents.ts';

const LEASE_MS = 30_000;
const RENEW_EVERY_MS = 10_000;
const CANCEL_POLL_MS = 1_000;

/** The state backend the engine writes through: a one-time grant per operation, fenced by its lease. */
export interface StateBackend {
  grant(grant: { accountId: string; resourceId: string; lockId: string }): { env: Record<string, string>; revoke: () => void };
}

export interface OperationDeps {
  orm: Orm;
  state: StateStore;
  credentials: Pick<CredentialService, 'openSecret'>;
  outbound: OutboundGuard;
  log: Logger;
  engine: InfrastructureEngine;
  backend: StateBackend;
  /** Called after an operation succeeded (the sandbox's inventory and cost follow it); must not throw. */
  succeeded?(resource: Resource): Promise<void>;
}

/** The operation ended failed: another attempt would repeat it (the job fails for good). */
export class OperationFailedError extends AppError {
  constructor(message: string) {
    super('operation_failed', 422, message);
  }
}

/** A failure worth another attempt, even when its cause is an AppError that is final elsewhere (a held lock). */
class RetryLater extends Error {}

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
 * One provisioning operation as a step job: plan, then (auto-approved or approved) apply, through the engine port.
 * Every step is idempotent and the engine's state lives in Skyloft's backend, so a retry after a crash (a stalled
 * job picked up by another worker) re-plans against the state the dead attempt left and converges.
 *
 * Throws OperationFailedError once the operation is recorded failed; any other error is worth a retry. `signal`
 * aborts on shutdown: the running step is stopped (it saves its state), the lease released, and the error thrown.
 */
export function runOperation(deps: OperationDeps, em: Em, job: { operationId: string; phase: 'plan' | 'apply' }, signal?: AbortSignal): Promise<void> {
  return new OperationRun(deps, em).run(job.operationId, job.phase, signal).catch((e: unknown) => {
    if (e instanceof OperationFailedError || !(e instanceof AppError) || e.retryable) throw e;
    throw new RetryLater(e.message, { cause: e });
  });
}

class OperationRun {
  private readonly deps: OperationDeps;
  private readonly em: Em;

  constructor(deps: OperationDeps, em: Em) {
    this.deps = deps;
    this.em = em;
  }

  async run(operationId: string, phase: 'plan' | 'apply', signal: AbortSignal | undefined): Promise<void> {
    const { em, deps } = this;
    const op = await em.findOne(Operation, { id: operationId });
    if (!op || op.status === 'succeeded' || op.status === 'failed' || op.status === 'canceled' || op.status === 'awaiting_approval') return;
    if (phase === 'plan' && op.approvedAt) return; // approved: the apply-phase job does the work
    const resource = await em.findOneOrFail(Resource, { id: op.resourceId, accountId: op.accountId });
    if (op.cancelRequestedAt) return this.finish(op, resource, 'canceled', 'canceled before it started');

    const running = { status: 'running' as const, attempts: op.attempts + 1, startedAt: op.startedAt ?? new Date() };
    // Claimed only if nobody canceled it since it was read: a cancel, or a forget of its resource, settles a queued
    // operation in one transaction, and must not be undone by a worker that read it a moment before.
    if ((await em.nativeUpdate(Operation, { id: op.id, status: { $in: ['queued', 'running'] }, cancelRequestedAt: null }, running)) === 0) {
      await em.refresh(op);
      // A running operation asked to stop (its worker died) is still this job's to settle; a canceled one is settled.
      if (op.status === 'running') return this.finish(op, resource, 'canceled', 'canceled before it started');
      return;
    }
    Object.assign(op, running);
    resource.status = RESOURCE_STATUS_WHILE[op.kind];
    await em.flush();

    const lockId = `skyloft-operation-${op.id}`;
    const output = new OperationLog(deps.orm, op.id);
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
        renewLease(deps.orm.em.fork(), resource.id, lockId, LEASE_MS).then(
          (held) => held || controller.abort(new Stopped('lease-lost')),
          () => {},
        );
      }, RENEW_EVERY_MS),
      setInterval(() => {
        deps.orm.em.fork().findOne(Operation, { id: op.id }, { fields: ['cancelRequestedAt'] }).then(
          (row) => row?.cancelRequestedAt && controller.abort(new Stopped('canceled')),
          () => {},
        );
      }, CANCEL_POLL_MS),
    ];
    let engineRun: EngineRun | undefined;
    try {
      // Under the lease, so no state write can come in between.
      if (op.kind === 'destroy' && holdsNoResources(await deps.state.latest(em, resource.id))) return await this.destroyNothing(op, resource, output);
      engineRun = await deps.engine.open();
      await this.steps(op, resource, phase, lockId, engineRun, controller.signal, output);
    } catch (e) {
      await output.flush();
      const stopped = controller.signal.reason instanceof Stopped ? controller.signal.reason : undefined;
      if (stopped?.why === 'canceled') return this.finish(op, resource, 'canceled', 'canceled while running');
      if (stopped) throw new Error(`stopped: ${stopped.why}; the operation will be retried`);
      const final = e instanceof OperationFailedError || (e instanceof AppError && !e.retryable && !deps.engine.isStopped(e));
      if (!final) throw e;
      await this.finish(op, resource, 'failed', (e as Error).message);
      throw e instanceof OperationFailedError ? e : new OperationFailedError((e as Error).message);
    } finally {
      timers.forEach(clearInterval);
      signal?.removeEventListener('abort', onShutdown);
      // The lock first: the engine has stopped, and disposing of its workspace (ending its processes, removing its
      // files) takes a moment in which a killed worker would leave the lock to lapse.
      await releaseLock(deps.orm.em.fork(), resource.id, lockId, 'worker').catch(() => {});
      await output.flush();
      await engineRun?.dispose();
    }
  }

  private async steps(op: Operation, resource: Resource, phase: 'plan' | 'apply', lockId: string, engine: EngineRun, signal: AbortSignal, log: OperationLog) {
    const { em, deps } = this;
    const credential = resource.credentialId ? await em.findOne(Credential, { id: resource.credentialId, accountId: resource.accountId }) : null;
    if (!credential) throw new OperationFailedError("The resource's credential was deleted");
    const cloud = terraformCloudEnv(credential, await deps.credentials.openSecret(em, credential), resource.region, deps.outbound);
    const stack = await this.stackRequest(op, resource, cloud.stack);
    const grant = deps.backend.grant({ accountId: resource.accountId, resourceId: resource.id, lockId });
    try {
      // The engine's init installs every provider the stored state names: a state stored before the backend checked
      // them must not run (the lease is held, so nothing can be written in between).
      assertStateProviders(await deps.state.latest(em, resource.id), resource.provider);
      await engine.init({ stack, env: { ...grant.env, ...cloud.env }, signal, onOutput: (text) => log.append(text) });
      const planned = await engine.plan({ destroy: op.kind === 'destroy' });
      // Right after approval the new plan must be the one approved; a retry after a crash mid-apply (step 'apply')
      // re-plans against the partial state instead and converges.
      if (op.step === 'approval' && op.planSummary && JSON.stringify(op.planSummary) !== JSON.stringify(planned.summary)) {
        throw new OperationFailedError(`The plan changed since it was approved (${JSON.stringify(op.planSummary)} then, ${JSON.stringify(planned.summary)} now); request the change again`);
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
      if (planned.changes) await engine.apply();
      if (op.kind === 'destroy') {
        Object.assign(resource, { status: 'destroyed', destroyedAt: new Date(), outputs: {} });
      } else {
        // The outputs are in the state the engine just saved through our backend: no engine process.
        Object.assign(resource, { status: 'active', outputs: engine.outputs(await deps.state.latest(em, resource.id)), spec: op.spec });
      }
      await this.finish(op, resource, 'succeeded', null);
    } finally {
      grant.revoke();
    }
  }

  /**
   * A destroy of a resource whose state holds nothing (an apply that failed before creating anything, or never ran)
   * has nothing to ask the cloud: it ends destroyed without the engine, and without an approval (there is no change
   * to approve), so such a resource is never stuck behind a credential or a plan that cannot work.
   */
  private async destroyNothing(op: Operation, resource: Resource, log: OperationLog) {
    log.append('The state holds no resources: nothing to destroy in the cloud. Terraform was not run.\n');
    this.deps.log.info({ operationId: op.id, resourceId: resource.id }, 'destroy of a resource whose state holds nothing: done without terraform');
    op.planSummary = { add: 0, change: 0, destroy: 0 };
    Object.assign(resource, { status: 'destroyed', destroyedAt: new Date(), outputs: {} });
    await this.finish(op, resource, 'succeeded', null);
  }

  private async stackRequest(op: Operation, resource: Resource, extra: Record<string, unknown>): Promise<StackRequest> {
    const { networkResourceId, ...spec } = op.spec as { networkResourceId?: string };
    // Scoped to the resource's account: an id is never trusted to belong to it, even one the API checked.
    const network = networkResourceId ? await this.em.findOne(Resource, { id: networkResourceId, accountId: resource.accountId }) : null;
    if (networkResourceId && !network) throw new OperationFailedError(`Network resource ${networkResourceId} does not exist in this account`);
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
    };
  }

  private async finish(op: Operation, resource: Resource, status: 'succeeded' | 'failed' | 'canceled', error: string | null) {
    Object.assign(op, { status, step: 'done', error, finishedAt: new Date() });
    if (status === 'failed') resource.status = 'failed';
    if (status === 'canceled') {
      if (op.kind === 'apply' && op.attempts === 0) Object.assign(resource, { status: 'destroyed', destroyedAt: new Date() });
      else resource.status = op.kind === 'apply' ? 'failed' : 'active';
    }
    await this.em.flush();
    if (status === 'succeeded') await this.deps.succeeded?.(resource);
  }
}
