import { createHash } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { Em } from '../../db/orm.ts';
import { lockRows } from '../../db/row-locks.ts';
import type { Actor } from '../../shared/actor.ts';
import { ConflictError, NotFoundError, UnprocessableError } from '../../shared/errors.ts';
import { isUuid, newId } from '../../shared/ids.ts';
import type { Logger } from '../../shared/logger.ts';
import { keysetPage, type Page, type PageRequest } from '../../shared/pagination.ts';
import { enqueueOrLeave } from '../../queue/enqueue.ts';
import type { Queues } from '../../queue/catalog.ts';
import { assertQuota, lockAccountQuotas, type CountQuotas } from '../accounts/index.ts';
import { recordAudit } from '../audit/index.ts';
import { type Provider, usableCredential } from '../credentials/index.ts';
import { IdempotencyKey, isUnmanaged, Operation, Resource, UNMANAGED_STATUSES } from './entities.ts';
import { resourceOf } from './resources.ts';
import { validateSpec } from './specs.ts';
import { operationView, resourceView } from './views.ts';

export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;

export interface NewResource {
  name: string;
  provider: Provider;
  type: Resource['type'];
  region: string;
  credentialId: string;
  spec: Record<string, unknown>;
  autoApprove?: boolean;
}

const ACTIVE: Operation['status'][] = ['queued', 'running', 'awaiting_approval'];

/**
 * Accepts resource changes as operations. The operation row is committed before anything touches Redis: if the
 * enqueue fails (Redis down) the request is still accepted and the reconciler enqueues it later.
 */
export class ProvisioningService {
  private readonly queues: Queues;
  private readonly log: Logger;
  private readonly quotas: Pick<CountQuotas, 'resources' | 'activeOperations'>;

  constructor(queues: Queues, log: Logger, quotas: Pick<CountQuotas, 'resources' | 'activeOperations'> = { resources: Infinity, activeOperations: Infinity }) {
    this.queues = queues;
    this.log = log;
    this.quotas = quotas;
  }

  async create(em: Em, actor: Actor, input: NewResource, idempotencyKey?: string) {
    const requestHash = createHash('sha256').update(JSON.stringify(['create', input])).digest('hex');
    if (idempotencyKey) {
      const replay = await this.replay(em, actor.accountId, idempotencyKey, requestHash);
      if (replay) return replay;
    }
    // Another account's credential answers exactly as an unknown one: 404, as sync, collect and check do; a deleted one 422.
    const credential = await usableCredential(em, actor.accountId, input.credentialId);
    if (credential.provider !== input.provider) {
      throw new UnprocessableError(`Credential ${credential.name} is for ${credential.provider}, not ${input.provider}`);
    }
    const spec = validateSpec(input.provider, input.type, input.spec);
    const network = await this.networkFor(em, actor.accountId, input, spec);

    const accepted = await em.transactional(async (tx) => {
      await lockAccountQuotas(tx, actor.accountId);
      // Again under the lock a credential delete takes too: it committed before (422 here), or it will count this resource.
      await usableCredential(tx, actor.accountId, credential.id);
      // The name first: a racing request with the same Idempotency-Key must find the winner's resource and replay it,
      // not count it against the quota.
      if ((await tx.count(Resource, { accountId: actor.accountId, name: input.name, status: { $nin: [...UNMANAGED_STATUSES] } })) > 0) {
        throw new ConflictError(`A resource named "${input.name}" already exists in this account`);
      }
      await assertQuota(tx, 'resources', this.quotas.resources, actor.accountId);
      await assertQuota(tx, 'activeOperations', this.quotas.activeOperations, actor.accountId);
      const resource = tx.create(Resource, {
        id: newId(),
        accountId: actor.accountId,
        name: input.name,
        provider: input.provider,
        type: input.type,
        region: input.region,
        credentialId: credential.id,
        networkResourceId: network?.id ?? null,
        spec,
        status: 'pending',
        outputs: {},
        drift: null,
        destroyedAt: null,
        createdBy: actor.userId,
        updatedBy: actor.userId,
      });
      const operation = this.newOperation(tx, actor, resource, 'apply', spec, input.autoApprove);
      if (idempotencyKey) {
        await tx.nativeDelete(IdempotencyKey, { accountId: actor.accountId, key: idempotencyKey, expiresAt: { $lte: new Date() } });
        tx.create(IdempotencyKey, {
          accountId: actor.accountId,
          key: idempotencyKey,
          requestHash,
          resourceId: resource.id,
          operationId: operation.id,
          expiresAt: new Date(Date.now() + IDEMPOTENCY_TTL_MS),
        });
      }
      recordAudit(tx, actor, { action: 'resource.create', entityType: 'resource', entityId: resource.id, after: resourceView(resource) });
      return { resource, operation };
    }).catch(async (e: unknown) => {
      // Two requests with one Idempotency-Key raced (the loser trips over the winner's name or key): the loser
      // answers what the winner stored.
      const raced = e instanceof UniqueConstraintViolationException || e instanceof ConflictError;
      const replay = raced && idempotencyKey ? await this.replay(em.fork(), actor.accountId, idempotencyKey, requestHash) : null;
      if (replay) return { ...replay, replayed: true };
      throw e;
    });
    if (!('replayed' in accepted)) await this.enqueue(accepted.operation, 'plan');
    return { resource: accepted.resource, operation: accepted.operation };
  }

  async update(em: Em, actor: Actor, id: string, spec: Record<string, unknown>, autoApprove?: boolean) {
    return this.change(em, actor, id, 'update', spec, autoApprove);
  }

  async destroy(em: Em, actor: Actor, id: string, autoApprove?: boolean) {
    return this.change(em, actor, id, 'destroy', undefined, autoApprove);
  }

  private async change(em: Em, actor: Actor, id: string, kind: 'update' | 'destroy', rawSpec: Record<string, unknown> | undefined, autoApprove?: boolean) {
    const current = await resourceOf(em, actor.accountId, id);
    const spec = rawSpec === undefined ? current.spec : validateSpec(current.provider, current.type, rawSpec);
    // The same reference checks as a create: an update can name a network too.
    const network = rawSpec === undefined ? undefined : await this.networkFor(em, actor.accountId, current, spec);
    const result = await em.transactional(async (tx) => {
      await lockAccountQuotas(tx, actor.accountId); // always before the resource's lock (see quotas.ts)
      // Lock first, then read: the status and the active-operation check below see the latest committed row.
      await lockRows(tx, 'resources', 'id', current.id);
      const resource = await tx.findOneOrFail(Resource, { id: current.id }, { refresh: true });
      if (isUnmanaged(resource)) throw new UnprocessableError(`Resource ${id} is ${resource.status}: Skyloft no longer manages it`);
      if ((await tx.count(Operation, { resourceId: id, status: { $in: ACTIVE } })) > 0) {
        throw new ConflictError(`Resource ${id} already has an operation in progress; wait for it or cancel it`);
      }
      if (kind === 'destroy' && (await tx.count(Resource, { networkResourceId: id, status: { $nin: [...UNMANAGED_STATUSES] } })) > 0) {
        throw new ConflictError(`Network ${id} is still used by live vms; destroy them first`);
      }
      // Updates and destroys are work the workers owe too.
      await assertQuota(tx, 'activeOperations', this.quotas.activeOperations, actor.accountId);
      const before = resourceView(resource);
      const operation = this.newOperation(tx, actor, resource, kind, spec, autoApprove);
      resource.updatedBy = actor.userId;
      if (network !== undefined) resource.networkResourceId = network?.id ?? null;
      recordAudit(tx, actor, { action: `resource.${kind}`, entityType: 'resource', entityId: id, before, after: { ...before, spec } });
      return { resource, operation };
    });
    await this.enqueue(result.operation, 'plan');
    return result;
  }

  async approve(em: Em, actor: Actor, operationId: string): Promise<Operation> {
    const operation = await em.transactional(async (tx) => {
      const op = await this.lockedOperation(tx, actor.accountId, operationId);
      if (op.status !== 'awaiting_approval') throw new ConflictError(`Operation ${operationId} is ${op.status}, not awaiting approval`);
      Object.assign(op, { status: 'queued', approvedAt: new Date(), approvedBy: actor.userId, updatedBy: actor.userId });
      recordAudit(tx, actor, { action: 'operation.approve', entityType: 'operation', entityId: op.id, after: { planSummary: op.planSummary } });
      return op;
    });
    await this.enqueue(operation, 'apply');
    return operation;
  }

  /**
   * Cancels a queued or waiting operation at once. A running one gets cancel_requested_at; its worker sees it, stops
   * terraform (the whole process group), releases the lock and ends the operation canceled.
   */
  async cancel(em: Em, actor: Actor, operationId: string): Promise<Operation> {
    return em.transactional(async (tx) => {
      const op = await this.lockedOperation(tx, actor.accountId, operationId);
      if (!ACTIVE.includes(op.status)) throw new ConflictError(`Operation ${operationId} is already ${op.status}`);
      op.cancelRequestedAt = new Date();
      op.updatedBy = actor.userId;
      if (op.status !== 'running') {
        Object.assign(op, { status: 'canceled', step: 'done', finishedAt: new Date() });
        const resource = await tx.findOneOrFail(Resource, { id: op.resourceId });
        // A create canceled before it ran leaves nothing in the cloud; a change canceled leaves the resource as it was.
        if (op.kind === 'apply' && resource.status === 'pending') Object.assign(resource, { status: 'destroyed', destroyedAt: new Date() });
      }
      recordAudit(tx, actor, { action: 'operation.cancel', entityType: 'operation', entityId: op.id, after: { status: op.status } });
      return op;
    });
  }

  async getOperation(em: Em, accountId: string, id: string): Promise<Operation> {
    const op = isUuid(id) ? await em.findOne(Operation, { id, accountId }) : null;
    if (!op) throw new NotFoundError('Operation', id);
    return op;
  }

  async operationLog(em: Em, accountId: string, id: string): Promise<string> {
    const op = await this.getOperation(em, accountId, id);
    const row = await em.findOneOrFail(Operation, { id: op.id }, { fields: ['id', 'log'] });
    return row.log ?? '';
  }

  listOperations(em: Em, accountId: string, page: PageRequest, filters: { resourceId?: string; status?: Operation['status'] }): Promise<Page<Operation>> {
    return keysetPage(page, (idBelow, take) =>
      em.find(
        Operation,
        { accountId, ...(filters.resourceId && { resourceId: filters.resourceId }), ...(filters.status && { status: filters.status }), ...(idBelow && { id: { $lt: idBelow } }) },
        { orderBy: { id: 'desc' }, limit: take },
      ),
    );
  }

  /** Forgotten resources only when asked for by status: they are out of Skyloft's hands. */
  listResources(em: Em, accountId: string, page: PageRequest, filters: { provider?: Provider; type?: Resource['type']; status?: Resource['status'] }): Promise<Page<Resource>> {
    const status = filters.status ?? { $ne: 'forgotten' as const };
    return keysetPage(page, (idBelow, take) =>
      em.find(
        Resource,
        { accountId, ...filters, status, ...(idBelow && { id: { $lt: idBelow } }) },
        { orderBy: { id: 'desc' }, limit: take },
      ),
    );
  }

  /** The operation currently shaping a resource, for `{resource, operation}` answers. */
  latestOperation(em: Em, resourceId: string): Promise<Operation | null> {
    return em.findOne(Operation, { resourceId }, { orderBy: { id: 'desc' } });
  }

  private newOperation(em: Em, actor: Actor, resource: Resource, kind: Operation['kind'], spec: Record<string, unknown>, autoApprove = true): Operation {
    return em.create(Operation, {
      id: newId(),
      accountId: actor.accountId,
      resourceId: resource.id,
      kind,
      status: 'queued',
      step: 'plan',
      spec,
      autoApprove,
      approvedAt: null,
      approvedBy: null,
      cancelRequestedAt: null,
      attempts: 0,
      error: null,
      planSummary: null,
      log: '',
      startedAt: null,
      finishedAt: null,
      createdBy: actor.userId,
      updatedBy: actor.userId,
    });
  }

  private async lockedOperation(em: Em, accountId: string, id: string): Promise<Operation> {
    await this.getOperation(em, accountId, id);
    await lockRows(em, 'operations', 'id', id);
    return em.findOneOrFail(Operation, { id }, { refresh: true });
  }

  /** Same key and same body: the original answer. Same key, different body: 409. Expired keys are forgotten. */
  private async replay(em: Em, accountId: string, key: string, requestHash: string) {
    const found = await em.findOne(IdempotencyKey, { accountId, key, expiresAt: { $gt: new Date() } });
    if (!found) return null;
    if (found.requestHash !== requestHash) throw new ConflictError('This Idempotency-Key was used with a different request body');
    const resource = await em.findOneOrFail(Resource, { id: found.resourceId, accountId });
    const operation = await em.findOneOrFail(Operation, { id: found.operationId, accountId });
    return { resource, operation };
  }

  /** The live network of this account a vm's spec names, or null; another account's id answers 404 like an unknown one. */
  private async networkFor(em: Em, accountId: string, input: Pick<NewResource, 'provider' | 'type'>, spec: Record<string, unknown>) {
    const networkId = spec.networkResourceId;
    if (networkId === undefined) return null;
    if (input.type !== 'vm') throw new UnprocessableError('Only a vm may name a networkResourceId');
    const network = typeof networkId === 'string' && isUuid(networkId) ? await em.findOne(Resource, { id: networkId, accountId }) : null;
    if (!network) throw new NotFoundError('Network resource', String(networkId));
    if (network.type !== 'network' || network.provider !== input.provider || isUnmanaged(network)) {
      throw new UnprocessableError(`networkResourceId ${String(networkId)} is not a live ${input.provider} network of this account`);
    }
    return network;
  }

  /** Best effort: a failure leaves the operation queued for the reconciler; the request is accepted either way. */
  async enqueue(operation: Operation, phase: 'plan' | 'apply'): Promise<void> {
    await enqueueOrLeave(this.queues, this.log, 'provision', { operationId: operation.id, resourceId: operation.resourceId, phase, accountId: operation.accountId }, 'the reconciler');
  }
}

export { operationView, resourceView };
