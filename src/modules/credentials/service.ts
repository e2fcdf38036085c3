import { LockMode } from '@mikro-orm/core';
import { inBatches } from '../../db/batches.ts';
import type { Em } from '../../db/orm.ts';
import { retryOnDeadlock } from '../../db/deadlocks.ts';
import type { Actor } from '../../shared/actor.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../shared/errors.ts';
import { isUuid, newId } from '../../shared/ids.ts';
import { iso } from '../../shared/time.ts';
import { keysetPage, type Page, type PageRequest } from '../../shared/pagination.ts';
import type { KeyRing } from '../../shared/vault.ts';
import { OutboundGuard } from '../../shared/outbound.ts';
import { assertQuota, lockAccountQuotas } from '../accounts/quotas.ts';
import { recordAudit } from '../audit/service.ts';
import { Resource } from '../provisioning/entities.ts';
import { Credential, type CredentialEndpoints, type Provider } from './entity.ts';
import { isKeylessRole, parseSecret, type CredentialSecret, type SecretPolicy } from './secrets.ts';

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
  };
}

/** The one credential named (404 when it is not the account's), or every credential of the account. */
export async function credentialsInScope(em: Em, accountId: string, credentialId?: string): Promise<Credential[]> {
  if (credentialId === undefined) return em.find(Credential, { accountId }, { orderBy: { id: 'asc' } });
  const one = isUuid(credentialId) ? await em.findOne(Credential, { id: credentialId, accountId }) : null;
  if (!one) throw new NotFoundError('Credential', credentialId);
  return [one];
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

export class CredentialService {
  private readonly ring: KeyRing;
  private readonly outbound: OutboundGuard;
  private readonly secretPolicy: SecretPolicy;
  private readonly maxCredentials: number;

  constructor(ring: KeyRing, policy: CredentialPolicy = {}) {
    this.ring = ring;
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

  list(em: Em, accountId: string, page: PageRequest, provider?: Provider): Promise<Page<Credential>> {
    return keysetPage(page, (idBelow, take) =>
      em.find(
        Credential,
        { accountId, ...(provider && { provider }), ...(idBelow && { id: { $lt: idBelow } }) },
        { orderBy: { id: 'desc' }, limit: take },
      ),
    );
  }

  async get(em: Em, accountId: string, id: string): Promise<Credential> {
    const credential = isUuid(id) ? await em.findOne(Credential, { id, accountId }) : null;
    if (!credential) throw new NotFoundError('Credential', id);
    return credential;
  }

  async remove(em: Em, actor: Actor, id: string): Promise<void> {
    const credential = await this.get(em, actor.accountId, id);
    const live = await em.count(Resource, { credentialId: id, status: { $ne: 'destroyed' } });
    if (live > 0) throw new ConflictError(`Credential ${credential.name} still manages ${live} live resource(s); destroy them first`);
    // Its runs, checks and cost go with it (cascades); a job writing them at this moment may deadlock the delete once.
    await retryOnDeadlock(() => em.transactional(async (tx) => {
      recordAudit(tx, actor, { action: 'credential.delete', entityType: 'credential', entityId: id, before: credentialView(credential) });
      await tx.nativeDelete(Credential, { id });
    }));
  }

  async rotateSecret(em: Em, actor: Actor, id: string, rawSecret: unknown): Promise<Credential> {
    const credential = await this.get(em, actor.accountId, id);
    const secret = parseSecret(credential.provider, rawSecret, this.secretPolicy);
    const before = credentialView(credential);
    Object.assign(credential, sealSecret(this.ring, credential, secret), { secretUpdatedAt: new Date(), updatedBy: actor.userId });
    recordAudit(em, actor, { action: 'credential.rotate_secret', entityType: 'credential', entityId: id, before, after: credentialView(credential) });
    await em.flush();
    return credential;
  }

  /** Decrypts a credential's secret. Only workers call this, and only keep the result for one job. */
  async openSecret(em: Em, credential: Credential): Promise<CredentialSecret> {
    const row = await em.findOneOrFail(Credential, { id: credential.id }, { fields: ['id', 'accountId', 'secretCiphertext'] });
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
        const plain = this.ring.open(Buffer.from(row.secretCiphertext), aadFor(row));
        Object.assign(row, { secretCiphertext: this.ring.seal(plain, aadFor(row)), secretKeyId: this.ring.currentKeyId });
      }
      return rows.length;
    });
  }
}
