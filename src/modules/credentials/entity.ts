import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { authorship, timestamps } from '../../db/columns.ts';

export const PROVIDERS = ['aws', 'azure', 'gcp', 'sandbox'] as const;
export type Provider = (typeof PROVIDERS)[number];

export interface CredentialEndpoints {
  api?: string;
  authorityHost?: string;
}

export const Credential = defineEntity({
  name: 'Credential',
  tableName: 'credentials',
  properties: {
    id: p.uuid().primary(),
    accountId: p.string(),
    name: p.string(),
    provider: p.enum([...PROVIDERS]),
    region: p.string().nullable(),
    regions: p.json<string[]>().nullable(),
    endpoints: p.json<CredentialEndpoints>(),
    options: p.json<Record<string, unknown>>(),
    /** Sealed by src/shared/vault.ts, bound to (account, credential id). Loaded only where a secret is needed. */
    secretCiphertext: p.blob().lazy(),
    secretKeyId: p.string(),
    secretUpdatedAt: p.datetime().columnType('timestamptz'),
    ...timestamps,
    ...authorship,
  },
});
export type Credential = InferEntity<typeof Credential>;
