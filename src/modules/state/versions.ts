import { createHash } from 'node:crypto';
import { LockMode } from '@mikro-orm/core';
import { inBatches } from '../../db/batches.ts';
import type { Em } from '../../db/orm.ts';
import { lockRows } from '../../db/row-locks.ts';
import type { Actor } from '../../shared/actor.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../shared/errors.ts';
import { newId } from '../../shared/ids.ts';
import type { KeyRing } from '../../shared/vault.ts';
import { recordAudit } from '../audit/index.ts';
import { StateVersion, type LockHolder } from './entities.ts';
import { assertMayWrite } from './locks.ts';
import { assertStateProviders, terraformField } from './providers.ts';

const aadFor = (v: { accountId: string; resourceId: string; version: number }) =>
  `state:${v.accountId}:${v.resourceId}:${v.version}`;

export interface StateWrite {
  accountId: string;
  resourceId: string;
  body: Buffer;
  /** terraform's ?ID= on POST: the lock it believes it holds. */
  lockId?: string;
  /**
   * Who writes: a user's terraform (the public backend) or the worker's (its own state server). Part of the lock's
   * identity: a user presenting a worker's lock id (shown in every 423) does not hold that lock.
   */
  holder: LockHolder;
  /** base64 MD5 terraform sends in Content-MD5. */
  contentMd5?: string;
  userId?: string | null;
}

/** What Skyloft reads from a state body: terraform keeps serial and lineage only inside it. */
function parseState(body: Buffer): { state: Record<string, unknown>; serial: number; lineage: string } {
  let state: unknown;
  try {
    state = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ValidationError('The state is not valid JSON');
  }
  if (typeof state !== 'object' || state === null || Array.isArray(state)) throw new ValidationError('A Terraform state is a JSON object');
  const obj = state as Record<string, unknown>;
  const serial = terraformField(obj, 'serial');
  const lineage = terraformField(obj, 'lineage');
  if (!Number.isSafeInteger(serial) || (serial as number) < 0 || typeof lineage !== 'string' || lineage === '') {
    throw new ValidationError('A Terraform state needs a non-negative integer "serial" and a "lineage" string');
  }
  return { state: obj, serial: serial as number, lineage };
}

/**
 * Locks the resource's row for the whole write (versions gap-free, checks race-free) and reads its cloud in the
 * same statement: the providers a state may name follow from it.
 */
async function lockResource(tx: Em, accountId: string, resourceId: string): Promise<string> {
  const rows = await tx.getConnection().execute<{ provider: string }[]>(
    'select provider from resources where id = ? and account_id = ? for update',
    [resourceId, accountId],
    'all',
    tx.getTransactionContext(),
  );
  if (!rows[0]) throw new NotFoundError('Resource', resourceId);
  return rows[0].provider;
}

export class StateStore {
  private readonly ring: KeyRing;
  private readonly retention: number;

  constructor(ring: KeyRing, retention: number) {
    this.ring = ring;
    this.retention = retention;
  }

  /**
   * Stores an accepted POST as the next version. The resource row is locked for the whole write, so versions
   * are gap-free and a lineage/serial check cannot race another write. A state naming a provider the resource's
   * stacks do not use is refused (422): terraform would install and run it on the next operation.
   */
  async write(em: Em, w: StateWrite): Promise<StateVersion> {
    if (w.contentMd5 !== undefined && createHash('md5').update(w.body).digest('base64') !== w.contentMd5) {
      throw new ValidationError('Content-MD5 does not match the body');
    }
    const { state, serial, lineage } = parseState(w.body);
    const sha256 = createHash('sha256').update(w.body).digest('hex');
    return em.transactional(async (tx) => {
      assertStateProviders(state, await lockResource(tx, w.accountId, w.resourceId));
      const lock = await assertMayWrite(tx, w.resourceId, w.lockId ? { lockId: w.lockId, holder: w.holder } : undefined);
      const latest = await tx.findOne(StateVersion, { resourceId: w.resourceId }, { orderBy: { version: 'desc' } });
      if (latest && latest.lineage !== lineage) {
        throw new ConflictError(`State lineage ${lineage} differs from the stored lineage ${latest.lineage}`);
      }
      if (latest && (serial < latest.serial || (serial === latest.serial && sha256 !== latest.sha256))) {
        throw new ConflictError(`State serial ${serial} does not move forward from the stored serial ${latest.serial}`);
      }
      const version = (latest?.version ?? 0) + 1;
      const row = tx.create(StateVersion, {
        id: newId(),
        accountId: w.accountId,
        resourceId: w.resourceId,
        version,
        serial,
        lineage,
        sha256,
        size: w.body.length,
        operationId: lock?.operationId ?? null,
        ciphertext: this.ring.seal(w.body, aadFor({ ...w, version })),
        keyId: this.ring.currentKeyId,
        createdBy: w.userId ?? null,
      });
      await tx.flush();
      await tx.nativeDelete(StateVersion, { resourceId: w.resourceId, version: { $lte: version - this.retention } });
      return row;
    });
  }

  /** The newest state's plaintext, or null when the resource has none. */
  async latest(em: Em, resourceId: string): Promise<Buffer | null> {
    const row = await em.findOne(StateVersion, { resourceId }, { orderBy: { version: 'desc' }, populate: ['ciphertext'] });
    return row ? this.open(row) : null;
  }

  async read(em: Em, resourceId: string, version: number): Promise<Buffer> {
    const row = await em.findOne(StateVersion, { resourceId, version }, { populate: ['ciphertext'] });
    if (!row) throw new NotFoundError('State version', String(version));
    return this.open(row);
  }

  list(em: Em, resourceId: string): Promise<StateVersion[]> {
    return em.find(StateVersion, { resourceId }, { orderBy: { version: 'desc' } });
  }

  /** Terraform's DELETE: drops every version (audited); refused while someone holds the lock. */
  async removeAll(em: Em, actor: Actor, resourceId: string): Promise<number> {
    return em.transactional(async (tx) => {
      await lockRows(tx, 'resources', 'id', resourceId);
      await assertMayWrite(tx, resourceId, undefined);
      const deleted = await tx.nativeDelete(StateVersion, { resourceId });
      recordAudit(tx, actor, { action: 'state.delete', entityType: 'resource', entityId: resourceId, before: { versions: deleted } });
      return deleted;
    });
  }

  private open(row: StateVersion): Buffer {
    return this.ring.open(Buffer.from(row.ciphertext), aadFor(row));
  }

  /** Re-seals every state version not under the newest master key (rotate-master-key), in small batches. */
  resealAll(em: Em): Promise<number> {
    return inBatches(em, async (tx) => {
      const rows = await tx.find(
        StateVersion,
        { keyId: { $ne: this.ring.currentKeyId } },
        { fields: ['id', 'accountId', 'resourceId', 'version', 'ciphertext', 'keyId'], limit: 20, lockMode: LockMode.PESSIMISTIC_WRITE },
      );
      for (const row of rows) {
        Object.assign(row, { ciphertext: this.ring.seal(this.open(row as StateVersion), aadFor(row)), keyId: this.ring.currentKeyId });
      }
      return rows.length;
    });
  }
}
