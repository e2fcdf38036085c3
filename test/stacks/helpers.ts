import { tmpdir } from 'node:os';
import { App, Testing, type TerraformStack } from 'cdktf';
import { expect } from 'vitest';

/**
 * cdktf's matchers (toHaveResourceWithProperties, ...) are written for jest and install themselves on a global
 * `expect`; vitest's has the same `extend` and asymmetric matcher API, so they work once it is global.
 */
(globalThis as { expect?: unknown }).expect ??= expect;
Testing.setupJest();

/** What the matchers take: a binding class, or `{ tfResourceType }` for our generic resources. */
type TfType = { tfResourceType: string };

declare module 'vitest' {
  interface Matchers<R extends void | Promise<void> = void | Promise<void>, T = unknown> {
    toHaveResource(type: TfType): R;
    toHaveResourceWithProperties(type: TfType, properties: Record<string, unknown>): R;
    toHaveProviderWithProperties(type: TfType, properties: Record<string, unknown>): R;
  }
}

export const tf = (tfResourceType: string): TfType => ({ tfResourceType });

export const common = {
  resourceId: 'Res-01JABCDEF',
  accountId: 'Acc-42XYZ',
  name: 'web 1',
  region: 'eu-west-1',
};

export const skyloftTags = { 'skyloft-resource-id': 'res-01jabcdef', 'skyloft-account-id': 'acc-42xyz' };

/** The synthesized cdk.tf.json of a stack, as cdktf's Testing.synth renders it (aspects applied). */
export function synth(build: (app: App) => TerraformStack): { json: string; doc: TfDoc } {
  // Testing.synth writes nothing: the outdir only has to exist.
  const stack = build(Testing.app({ outdir: tmpdir() }));
  const json = Testing.synth(stack);
  return { json, doc: JSON.parse(json) as TfDoc };
}

export interface TfDoc {
  terraform: { backend?: Record<string, Record<string, unknown>>; required_providers?: Record<string, unknown> };
  provider?: Record<string, Array<Record<string, unknown>>>;
  resource: Record<string, Record<string, Record<string, unknown>>>;
  output: Record<string, { value: unknown }>;
}

/** The one resource of a type (fails if there is not exactly one). */
export function only(doc: TfDoc, type: string): Record<string, unknown> {
  const all = Object.values(doc.resource[type] ?? {});
  expect(all, `${type} count`).toHaveLength(1);
  return all[0]!;
}

/** The empty http backend (partial configuration): nothing but `http: {}`. */
export function expectEmptyHttpBackend(doc: TfDoc): void {
  expect(doc.terraform.backend).toEqual({ http: {} });
}

/** Provider arguments that carry or point at credentials (aws, azurerm, google). */
const CREDENTIAL_KEYS =
  /^(access_key|secret_key|token|profile|shared_credentials_files|shared_config_files|assume_role.*|client_id|client_secret|client_certificate.*|oidc_token.*|use_msi|credentials|access_token|impersonate_service_account)$/;

/** No provider block carries anything that looks like a credential. */
export function expectNoCredentials(doc: TfDoc): void {
  for (const [name, blocks] of Object.entries(doc.provider ?? {})) {
    for (const block of blocks) {
      expect(Object.keys(block).filter((k) => CREDENTIAL_KEYS.test(k)), `provider ${name}`).toEqual([]);
    }
  }
}

/** Every resource of the types given carries Skyloft's tags under `key`. */
export function expectTagged(doc: TfDoc, types: string[], key: 'tags' | 'labels'): void {
  for (const type of types) {
    const all = Object.values(doc.resource[type] ?? {});
    expect(all.length, type).toBeGreaterThan(0);
    for (const r of all) expect(r[key], type).toMatchObject(skyloftTags);
  }
}
