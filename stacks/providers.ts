import type { TerraformStack } from 'cdktf';
import type { Construct } from 'constructs';

/**
 * The Terraform providers Skyloft's stacks use, each pinned to one exact version: the only providers terraform may
 * install (the CLI config's include lists) and the only ones a resource's stored state may name (the state backend
 * refuses any other: a state naming `provider["evil.example/x/y"]` would make `terraform init` fetch and run it).
 * An air-gapped mirror (SKYLOFT_PROVIDER_MIRROR) must hold exactly these versions.
 */
export const PINNED_PROVIDERS = {
  aws: { name: 'aws', source: 'hashicorp/aws', version: '6.25.0' },
  azurerm: { name: 'azurerm', source: 'hashicorp/azurerm', version: '4.54.0' },
  google: { name: 'google', source: 'hashicorp/google', version: '7.12.0' },
} as const;

export type PinnedProvider = (typeof PINNED_PROVIDERS)[keyof typeof PINNED_PROVIDERS];

/** Terraform's built-in provider (terraform_data, terraform_remote_state): nothing to install. */
export const BUILTIN_PROVIDER = 'terraform.io/builtin/terraform';

const REGISTRY = 'registry.terraform.io';

/** A provider's fully qualified address, as state files and `include` lists write it. */
export const providerAddress = (p: PinnedProvider) => `${REGISTRY}/${p.source}`;

export type StackClass = new (scope: Construct, id: string, config: never) => TerraformStack;

/** A Skyloft provider's stacks (stacks/<provider>/index.ts), listed in stacks/index.ts. */
export interface ProviderStacks {
  /** The pinned terraform providers its stacks use; terraform's built-in one is always allowed. */
  providers: readonly PinnedProvider[];
  /** One stack per resource kind, loaded on demand (a sandbox synthesis never loads @cdktf/provider-aws). */
  kinds: Readonly<Record<string, () => Promise<StackClass>>>;
}

/** Every pinned provider's address: what terraform may install at all. */
export const INSTALLABLE_PROVIDER_ADDRESSES: readonly string[] = Object.values(PINNED_PROVIDERS).map(providerAddress);
