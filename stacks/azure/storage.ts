import { TerraformOutput } from 'cdktf';
import type { Construct } from 'constructs';
import { cloudName, SkyloftStack, type StackConfig } from '../common.ts';
import { azurermProvider, ResourceGroup, StorageAccount } from './resources.ts';

export interface AzureStorageSpec {
  /** 3-24 lowercase letters and digits, globally unique; default: from the resource id. */
  accountName?: string;
  tier?: 'Standard' | 'Premium';
  /** LRS, ZRS, GRS, ... (default LRS). */
  replication?: string;
}

export type AzureStorageConfig = StackConfig<AzureStorageSpec>;

/** An Azure storage account in its own resource group. */
export class AzureStorageStack extends SkyloftStack<AzureStorageConfig> {
  constructor(scope: Construct, id: string, input: AzureStorageConfig) {
    super(scope, id, input);
    const { name, region: location, resourceId, spec } = this.config;
    azurermProvider(this);

    const group = new ResourceGroup(this, 'resource-group', { name: cloudName(['skyloft', name, resourceId], 90), location });
    const account = new StorageAccount(this, 'storage-account', {
      name: spec.accountName ?? `sl${resourceId.toLowerCase().replace(/[^a-z0-9]/g, '')}`.slice(0, 24),
      resourceGroupName: group.name,
      location,
      tier: spec.tier ?? 'Standard',
      replication: spec.replication ?? 'LRS',
    });

    new TerraformOutput(this, 'id', { value: account.id });
    new TerraformOutput(this, 'name', { value: account.attr('name') });
    new TerraformOutput(this, 'primary_blob_endpoint', { value: account.attr('primary_blob_endpoint') });
  }
}
