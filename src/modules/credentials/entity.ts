import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { providerIds } from '../../clouds/registry.ts';
import { authorship, timestamps } from '../../db/columns.ts';

/** The registered providers (src/clouds/registry.ts): the API's enum. The database does not list them. */
export const PROVIDERS = providerIds();
/** A registered provider's id. */
export type Provider = string;

export interface CredentialEndpoints {
  api?: string;
  authorityHost?: string;
}

/**
 * A deleted credential keeps its row (deletedAt set, secret wiped) so its inventory, cost and health history stay
 * readable. The default `live` filter hides it from every ORM read, so no worker, schedule or route uses it by
 * accident; the few reads of history pass `filters: { live: false }` (WITH_DELETED in service.ts).
 */
export const Credential = defineEntity({
  name: 'Credential',
  tableName: 'credentials',
  filters: { live: { name: 'live', cond: { deletedAt: null }, default: true } },
  properties: {
    id: p.uuid().primary(),
    accountId: p.string(),
    name: p.string(),
    provider: p.enum([...PROVIDERS]),
    region: p.string().nullable(),
    regions: p.json<string[]>().nullable(),
    endpoints: p.json<CredentialEndpoints>(),
    options: p.json<Record<string, unknown>>(),
    /** Sealed by src/shared/vault.ts, bound to (account, credential id). Loaded only where a secret is needed; null once deleted. */
    secretCiphertext: p.blob().lazy().nullable(),
    secretKeyId: p.string().nullable(),
    secretUpdatedAt: p.datetime().columnType('timestamptz'),
    deletedAt: p.datetime().columnType('timestamptz').nullable(),
    ...timestamps,
    ...authorship,
  },
});
export type Credential = InferEntity<typeof Credential>;
