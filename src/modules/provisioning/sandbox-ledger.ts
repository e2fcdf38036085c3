import type { SandboxAccount, SandboxLedger, SandboxObject, SandboxResource } from '../../clouds/ports.ts';
import { terraformDataObjects } from '../../clouds/sandbox/state.ts';
import type { Em, Orm } from '../../db/orm.ts';
import { Credential } from '../credentials/index.ts';
import { Resource } from './entities.ts';
import type { StateStore } from '../state/index.ts';

/** A resource destroyed longer ago than the longest cost range (13 months) bills no day a collection can ask for. */
const BILLED_DAYS = 400;

/**
 * The sandbox's world, read from Skyloft's own records: the credential's sandbox resources of its own account (the
 * resource and the credential must agree on it: another account's resources are never in reach), each with the
 * `terraform_data` objects of its stored Terraform state. States are decrypted in this worker for one job, like a
 * credential's secret, and never logged.
 */
export class StoredSandboxLedger implements SandboxLedger {
  private readonly orm: Orm;
  private readonly states: StateStore;

  constructor(orm: Orm, states: StateStore) {
    this.orm = orm;
    this.states = states;
  }

  async read(credentialId: string): Promise<SandboxAccount> {
    const em = this.orm.em.fork();
    const credential = await em.findOneOrFail(Credential, { id: credentialId, provider: 'sandbox' }, { fields: ['id', 'accountId', 'createdAt'] });
    const rows = await em.find(
      Resource,
      {
        credentialId,
        accountId: credential.accountId,
        provider: 'sandbox',
        $or: [{ destroyedAt: null }, { destroyedAt: { $gte: new Date(Date.now() - BILLED_DAYS * 86_400_000) } }],
      },
      { orderBy: { createdAt: 'asc', id: 'asc' } },
    );
    const resources = [];
    for (const r of rows) {
      // The sandbox descriptor's kinds (src/clouds/sandbox/descriptor.ts) are the inventory types it shows.
      resources.push({ resourceId: r.id, type: r.type as SandboxResource['type'], region: r.region, createdAt: r.createdAt, destroyedAt: r.destroyedAt ?? null, ...(await this.objectsOf(em, r.id)) });
    }
    return { accountId: credential.accountId, registeredAt: credential.createdAt, resources };
  }

  /** The objects of the newest state version that holds any, and whether that is the newest version. */
  private async objectsOf(em: Em, resourceId: string): Promise<{ objects: SandboxObject[]; live: boolean }> {
    const versions = await this.states.list(em, resourceId);
    for (const [i, v] of versions.entries()) {
      const objects = terraformDataObjects(parsed(await this.states.read(em, resourceId, v.version)));
      if (objects.length > 0) return { objects, live: i === 0 };
    }
    return { objects: [], live: false };
  }
}

function parsed(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
