import { TerraformOutput } from 'cdktf';
import type { Construct } from 'constructs';
import { cloudName, idList, SkyloftStack, type StackConfig } from '../common.ts';
import { azurermProvider, ResourceGroup, Subnet, VirtualNetwork } from './resources.ts';

export interface AzureNetworkSpec {
  /** e.g. `['10.0.0.0/16']`. */
  addressSpace: string[];
  /** At least one; the first is the one a vm joins. */
  subnets: Array<{ name: string; addressPrefix: string }>;
}

export type AzureNetworkConfig = StackConfig<AzureNetworkSpec>;

/** What an Azure network publishes; an Azure vm takes `subnet_id`. */
export interface AzureNetworkOutputs {
  resource_group_name: string;
  virtual_network_id: string;
  subnet_id: string;
  subnet_ids: string[];
}

/** An Azure network: a resource group holding a virtual network and its subnets. */
export class AzureNetworkStack extends SkyloftStack<AzureNetworkConfig> {
  constructor(scope: Construct, id: string, input: AzureNetworkConfig) {
    super(scope, id, input);
    const { name, region: location, resourceId, spec } = this.config;
    if (spec.subnets.length === 0) throw new RangeError('an Azure network needs at least one subnet');
    azurermProvider(this);

    const group = new ResourceGroup(this, 'resource-group', { name: cloudName(['skyloft', name, resourceId], 90), location });
    const vnet = new VirtualNetwork(this, 'virtual-network', {
      name: cloudName([name], 64),
      resourceGroupName: group.name,
      location,
      addressSpace: spec.addressSpace,
    });
    const subnets = spec.subnets.map(
      (s, i) =>
        new Subnet(this, `subnet-${i}`, {
          name: cloudName([s.name], 80),
          resourceGroupName: group.name,
          virtualNetworkName: vnet.name,
          addressPrefix: s.addressPrefix,
        }),
    );

    new TerraformOutput(this, 'id', { value: vnet.id });
    new TerraformOutput(this, 'resource_group_name', { value: group.name });
    new TerraformOutput(this, 'virtual_network_id', { value: vnet.id });
    new TerraformOutput(this, 'subnet_id', { value: subnets[0]!.id });
    new TerraformOutput(this, 'subnet_ids', { value: idList(subnets) });
  }
}
