import { TerraformOutput } from 'cdktf';
import type { Construct } from 'constructs';
import { cloudName, SkyloftStack, type NetworkInput, type StackConfig } from '../common.ts';
import type { AzureNetworkOutputs } from './network.ts';
import {
  azurermProvider,
  LinuxVirtualMachine,
  NetworkInterface,
  ResourceGroup,
  Subnet,
  VirtualNetwork,
  type ImageReference,
} from './resources.ts';

export interface AzureVmSpec {
  size: string;
  adminUsername: string;
  sshPublicKey: string;
  image: ImageReference;
  osDiskType?: string;
}

export interface AzureVmConfig extends StackConfig<AzureVmSpec> {
  /** A managed Azure network; without one the vm gets a small network of its own (10.0.0.0/24). */
  network?: NetworkInput<Pick<AzureNetworkOutputs, 'subnet_id'>>;
}

/** An Azure Linux VM with its NIC, in its own resource group. */
export class AzureVmStack extends SkyloftStack<AzureVmConfig> {
  constructor(scope: Construct, id: string, input: AzureVmConfig) {
    super(scope, id, input);
    const { name, region: location, resourceId, spec, network } = this.config;
    azurermProvider(this);

    const group = new ResourceGroup(this, 'resource-group', { name: cloudName(['skyloft', name, resourceId], 90), location });
    const inGroup = { resourceGroupName: group.name, location };
    const subnetId = network?.outputs.subnet_id ?? this.ownSubnet(group, location);

    const nic = new NetworkInterface(this, 'network-interface', { name: cloudName([name, 'nic'], 80), ...inGroup, subnetId });
    const vm = new LinuxVirtualMachine(this, 'vm', {
      name: cloudName([name], 64),
      ...inGroup,
      size: spec.size,
      adminUsername: spec.adminUsername,
      sshPublicKey: spec.sshPublicKey,
      networkInterfaceIds: [nic.id],
      image: spec.image,
      osDiskType: spec.osDiskType,
    });

    new TerraformOutput(this, 'id', { value: vm.id });
    new TerraformOutput(this, 'private_ip', { value: vm.attr('private_ip_address') });
    new TerraformOutput(this, 'resource_group_name', { value: group.name });
  }

  private ownSubnet(group: ResourceGroup, location: string): string {
    const vnet = new VirtualNetwork(this, 'virtual-network', {
      name: 'vnet',
      resourceGroupName: group.name,
      location,
      addressSpace: ['10.0.0.0/24'],
    });
    return new Subnet(this, 'subnet', {
      name: 'default',
      resourceGroupName: group.name,
      virtualNetworkName: vnet.name,
      addressPrefix: '10.0.0.0/24',
    }).id;
  }
}
