import { LockMode } from '@mikro-orm/core';
import { inBatches } from '../../db/batches.ts';
import type { Em } from '../../db/orm.ts';
import { retryOnDeadlock } from '../../db/deadlocks.ts';
import type { Actor } from '../../shared/actor.ts';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../../shared/errors.ts';
import { isUuid, newId } from '../../shared/ids.ts';
import { iso } from '../../shared/time.ts';
import { keysetPage, type Page, type PageRequest } from '../../shared/pagination.ts';
import type { KeyRing } from '../../shared/vault.ts';
import { OutboundGuard } from '../../shared/outbound.ts';
import { assertQuota, lockAccountQuotas } from '../accounts/index.ts';
import { recordAudit } from '../audit/index.ts';
import { Credential, type CredentialEndpoints, type Provider } from './entity.ts';
import { isKeylessRole } from '../../clouds/aws/descriptor.ts';
import { parseSecret, type CredentialSecret, type SecretPolicy } from './secrets.ts';

export interface NewCredential {
  name: string;
  provider: Provider;
  region?: string;
  regions?: string[];
  endpoints?: CredentialEndpoints;
  options?: Record<string, unknown>;
  secret: unknown;
}

export type CredentialView = ReturnType<typeof credentialView>;

/** The only shape a credential leaves the service in: no ciphertext, no secret. */
export function credentialView(c: Credential) {
  return {
    id: c.id,
    name: c.name,
    provider: c.provider,
    region: c.region ?? null,
    regions: c.regions ?? null,
    endpoints: c.endpoints,
    options: c.options,
    secretUpdatedAt: iso(c.secretUpdatedAt),
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
    deletedAt: iso(c.deletedAt),
  };
}

/** Reads that reach deleted credentials too (their history); every other read sees live ones only. */
export const WITH_DELETED = { filters: { live: false } } as const;

/** A deleted credential named for new work: 422, saying what to do instead. Not retryable, so a job ends with it. */
export class CredentialDeletedError extends AppError {
  constructor(c: Pick<Credential, 'id' | 'name' | 'deletedAt'>) {
    super('credential_deleted', 422, `Credential ${c.name} (${c.id}) was deleted at ${iso(c.deletedAt)} and can no longer be used; register a new one (POST /v1/credentials)`);
  }
}

/**
 * A credential of the account, deleted ones included when asked (their history stays readable); another account's,
 * malformed or unknown ids answer 404.
 */
export async function credentialOf(em: Em, accountId: string, id: string, includeDeleted = false): Promise<Credential> {
  const credential = isUuid(id) ? await em.findOne(Credential, { id, accountId }, { ...(includeDeleted && WITH_DELETED), refresh: true }) : null;
  if (!credential) throw new NotFoundError('Credential', id);
  return credential;
}

/** The credential new work names: 404 when it is not the account's, 422 when it was deleted. */
export async function usableCredential(em: Em, accountId: string, id: string): Promise<Credential> {
  const credential = await credentialOf(em, accountId, id, true);
  if (credential.deletedAt) throw new CredentialDeletedError(credential);
  return credential;
}

/** The one credential named for new work (see usableCredential), or every live credential of the account. */
export async function credentialsInScope(em: Em, accountId: string, credentialId?: string): Promise<Credential[]> {
  if (credentialId === undefined) return em.find(Credential, { accountId }, { orderBy: { id: 'asc' } });
  return [await usableCredential(em, accountId, credentialId)];
}

/**
 * The `credentialId` condition of a history list (sync runs, cost runs): the credential asked for, if any, and unless
 * include=deleted none of the account's deleted credentials (their history is listed only when asked for).
 */
export async function historyOf(em: Em, accountId: string, credentialId: string | undefined, includeDeleted: boolean) {
  const deleted = includeDeleted ? [] : (await em.find(Credential, { accountId, deletedAt: { $ne: null } }, { ...WITH_DELETED, fields: ['id'] })).map((c) => c.id);
  if (credentialId === undefined && deleted.length === 0) return {};
  return { credentialId: { ...(credentialId !== undefined && { $eq: credentialId }), ...(deleted.length > 0 && { $nin: deleted }) } };
}

const aadFor = (c: { accountId: string; id: string }) => `credential:${c.accountId}:${c.id}`;

function sealSecret(ring: KeyRing, c: { accountId: string; id: string }, secret: CredentialSecret) {
  return { secretCiphertext: ring.seal(Buffer.from(JSON.stringify(secret), 'utf8'), aadFor(c)), secretKeyId: ring.currentKeyId };
}

export interface CredentialPolicy {
  /** Where endpoint overrides may point (unset: nowhere, the safe default). */
  outbound?: OutboundGuard;
  /** SKYLOFT_AWS_HOST_IDENTITY. */
  awsHostIdentity?: boolean;
  /** SKYLOFT_QUOTA_CREDENTIALS: credentials one account may hold (each is synced, checked and billed on schedule). */
  maxCredentials?: number;
}

/** A deleted credential's history, removed by a purge: rows per table. */
export interface PurgedHistory {
  inventoryItems: number;
  syncRuns: number;
  costLines: number;
  costDays: number;
  costKeys: number;
  costRuns: number;
  healthChecks: number;
}

/**
 * What other modules hold for a credential. The modules that use credentials implement it (`credentialUsage` of the
 * retention module), so this module imports none of the modules that depend on it.
 */
export interface CredentialUsage {
  /** The resources the credential still manages (neither destroyed nor forgotten), asked inside the deleting transaction. */
  liveResources(tx: Em, credentialId: string): Promise<number>;
  /** Removes the credential's history, table by table in short batches. */
  purgeHistory(em: Em, credential: { id: string; accountId: string }): Promise<PurgedHistory>;
}

export class CredentialService {
  private readonly ring: KeyRing;
  private readonly usage: CredentialUsage;
  private readonly outbound: OutboundGuard;
  private readonly secretPolicy: SecretPolicy;
  private readonly maxCredentials: number;

  constructor(ring: KeyRing, usage: CredentialUsage, policy: CredentialPolicy = {}) {
    this.ring = ring;
    this.usage = usage;
    this.maxCredentials = policy.maxCredentials ?? Infinity;
    this.outbound = policy.outbound ?? new OutboundGuard({ allowedEndpoints: [], localMode: false });
    this.secretPolicy = { awsHostIdentity: policy.awsHostIdentity ?? false, endpointProblem: (url) => this.outbound.problem(url) };
  }

  async create(em: Em, actor: Actor, input: NewCredential): Promise<Credential> {
    if (input.endpoints?.authorityHost && input.provider !== 'azure') {
      throw new ValidationError('endpoints.authorityHost applies to azure credentials only', [
        { path: 'endpoints.authorityHost', message: 'azure only' },
      ]);
    }
    const refused = this.outbound.endpointProblems(input.endpoints);
    if (refused.length > 0) throw new ValidationError(refused.map((p) => `${p.path} ${p.message}`).join('; '), refused);
    const secret = parseSecret(input.provider, input.secret, this.secretPolicy);
    return em.transactional(async (tx) => {
      await lockAccountQuotas(tx, actor.accountId);
      if ((await tx.count(Credential, { accountId: actor.accountId, name: input.name })) > 0) {
        throw new ConflictError(`A credential named "${input.name}" already exists in this account`);
      }
      await assertQuota(tx, 'credentials', this.maxCredentials, actor.accountId);
      return this.insert(tx, actor, input, secret);
    });
  }

  private insert(em: Em, actor: Actor, input: NewCredential, secret: CredentialSecret): Credential {
    const id = newId();
    const credential = em.create(Credential, {
      id,
      accountId: actor.accountId,
      name: input.name,
      provider: input.provider,
      region: input.region ?? null,
      regions: input.regions ?? null,
      endpoints: input.endpoints ?? {},
      options: input.options ?? {},
      ...sealSecret(this.ring, { accountId: actor.accountId, id }, secret),
      secretUpdatedAt: new Date(),
      createdBy: actor.userId,
      updatedBy: actor.userId,
    });
    recordAudit(em, actor, { action: 'credential.create', entityType: 'credential', entityId: id, after: credentialView(credential) });
    return credential;
  }

  list(em: Em, accountId: string, page: PageRequest, filters: { provider?: Provider; includeDeleted?: boolean }): Promise<Page<Credential>> {
    return keysetPage(page, (idBelow, take) =>
      em.find(
        Credential,
        { accountId, ...(filters.provider && { provider: filters.provider }), ...(idBelow && { id: { $lt: idBelow } }) },
        { orderBy: { id: 'desc' }, limit: take, ...(filters.includeDeleted && WITH_DELETED) },
      ),
    );
  }

  get(em: Em, accountId: string, id: string, includeDeleted = false): Promise<Credential> {
    return credentialOf(em, accountId, id, includeDeleted);
  }

  /**
   * Soft delete: the secret is wiped and the credential is never used again (no schedule, sync, check, collection or
   * new resource), but its inventory, cost and health history stay readable with include=deleted. 409 while it still
   * manages live resources (forgotten ones no longer count). Deleting it again changes nothing.
   */
  async remove(em: Em, actor: Actor, id: string): Promise<void> {
    await em.transactional(async (tx) => {
      const credential = await this.lockedForDeletion(tx, actor, id);
      if (credential.deletedAt) return;
      const before = credentialView(credential);
      const deletedAt = await this.retire(tx, actor, credential);
      recordAudit(tx, actor, { action: 'credential.delete', entityType: 'credential', entityId: id, before, after: { ...before, deletedAt: iso(deletedAt) } });
    });
  }

  /**
   * Removes a credential and its whole history for good: deleted first (if it was not), the purge audited, then its
   * history in short batches (`purgeHistory` of its CredentialUsage: src/modules/retention/purge.ts), then the row
   * itself. Answers what was removed.
   */
  async purge(em: Em, actor: Actor, id: string): Promise<PurgedHistory> {
    const credential = await em.transactional(async (tx) => {
      const found = await this.lockedForDeletion(tx, actor, id);
      const before = credentialView(found);
      if (!found.deletedAt) await this.retire(tx, actor, found);
      recordAudit(tx, actor, { action: 'credential.purge', entityType: 'credential', entityId: id, before });
      return found;
    });
    const purged = await this.usage.purgeHistory(em, credential);
    // Whatever a job still wrote meanwhile goes with the row (cascades, and the cost_data trigger): a few rows at most.
    await retryOnDeadlock(() => em.fork().transactional((tx) => tx.nativeDelete(Credential, { id: credential.id }, WITH_DELETED)));
    return purged;
  }

  /**
   * The credential to delete, row-locked after the account's quota lock (the order resource creates take), so a
   * create naming it either commits first (and then counts as live below) or sees it deleted.
   */
  private async lockedForDeletion(tx: Em, actor: Actor, id: string): Promise<Credential> {
    await lockAccountQuotas(tx, actor.accountId);
    const credential = isUuid(id) ? await tx.findOne(Credential, { id, accountId: actor.accountId }, { ...WITH_DELETED, lockMode: LockMode.PESSIMISTIC_WRITE }) : null;
    if (!credential) throw new NotFoundError('Credential', id);
    if (credential.deletedAt) return credential;
    const live = await this.usage.liveResources(tx, id);
    if (live > 0) {
      throw new ConflictError(`Credential ${credential.name} still manages ${live} live resource(s); destroy them, or forget them (admin: DELETE /v1/resources/:id?forget=true), first`);
    }
    return credential;
  }

  /** Marks the credential deleted and wipes its secret (nothing may use it again, so nothing needs it). */
  private async retire(tx: Em, actor: Actor, credential: Credential): Promise<Date> {
    const deletedAt = new Date();
    await tx.nativeUpdate(Credential, { id: credential.id }, { deletedAt, secretCiphertext: null, secretKeyId: null, updatedAt: deletedAt, updatedBy: actor.userId });
    return deletedAt;
  }

  async rotateSecret(em: Em, actor: Actor, id: string, rawSecret: unknown): Promise<Credential> {
    const found = await this.get(em, actor.accountId, id);
    const secret = parseSecret(found.provider, rawSecret, this.secretPolicy);
    // Under the row's lock: a delete committed meanwhile (its secret wiped) must not get a secret back.
    return em.transactional(async (tx) => {
      const credential = await tx.findOne(Credential, { id: found.id }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      if (!credential) throw new NotFoundError('Credential', id);
      const before = credentialView(credential);
      Object.assign(credential, sealSecret(this.ring, credential, secret), { secretUpdatedAt: new Date(), updatedBy: actor.userId });
      recordAudit(tx, actor, { action: 'credential.rotate_secret', entityType: 'credential', entityId: id, before, after: credentialView(credential) });
      return credential;
    });
  }

  /** Decrypts a credential's secret. Only workers call this, and only keep the result for one job. */
  async openSecret(em: Em, credential: Credential): Promise<CredentialSecret> {
    const row = await em.findOne(Credential, { id: credential.id }, { ...WITH_DELETED, fields: ['id', 'name', 'accountId', 'secretCiphertext', 'deletedAt'], refresh: true });
    if (!row) throw new NotFoundError('Credential', credential.id);
    if (!row.secretCiphertext) throw new CredentialDeletedError(row); // deleted since the job loaded it
    return JSON.parse(this.ring.open(Buffer.from(row.secretCiphertext), aadFor(row)).toString('utf8')) as CredentialSecret;
  }

  /**
   * Everything a worker's cloud adapter needs for one job: the decrypted secret (kept for that job only), the
   * endpoints, and for an AWS role without keys the ExternalId Skyloft assumes it with, when the installation allows
   * its own identity to be used at all (else the adapter refuses the role with a message saying so).
   */
  async cloudInput(em: Em, credential: Credential) {
    const secret = await this.openSecret(em, credential);
    const hostIdentity = credential.provider === 'aws' && isKeylessRole(secret) && this.secretPolicy.awsHostIdentity;
    return {
      provider: credential.provider,
      credentialId: credential.id,
      region: credential.region ?? null,
      regions: credential.regions ?? null,
      endpoints: credential.endpoints,
      options: credential.options,
      secret,
      ...(hostIdentity && { awsHostIdentity: { externalId: await this.awsExternalId(em, credential.accountId) } }),
    };
  }

  /** The ExternalId of every role Skyloft assumes for this account with the host's own AWS identity. */
  async awsExternalId(em: Em, accountId: string): Promise<string> {
    const rows = await em.getConnection().execute<Array<{ aws_external_id: string }>>('select aws_external_id from accounts where id = ?', [accountId]);
    if (!rows[0]) throw new NotFoundError('Account', accountId);
    return rows[0].aws_external_id;
  }

  /**
   * Re-seals every secret not yet under the newest master key, in small transactions so a crash midway loses
   * nothing: the next run picks up the rows still under the old key.
   */
  resealAll(em: Em): Promise<number> {
    return inBatches(em, async (tx) => {
      const rows = await tx.find(
        Credential,
        { secretKeyId: { $ne: this.ring.currentKeyId } },
        { fields: ['id', 'accountId', 'secretCiphertext', 'secretKeyId'], limit: 100, lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      for (const row of rows) {
        // Only live credentials are read (the default filter), and a live credential always has a secret (0013).
        const plain = this.ring.open(Buffer.from(row.secretCiphertext!), aadFor(row));
        Object.assign(row, { secretCiphertext: this.ring.seal(plain, aadFor(row)), secretKeyId: this.ring.currentKeyId });
      }
      return rows.length;
    });
  }
}
