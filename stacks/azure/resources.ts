import type { Construct } from 'constructs';
import { GenericProvider, GenericResource, type GenericResourceOptions } from '../generic.ts';
import { PINNED_PROVIDERS } from '../providers.ts';

/**
 * Small typed constructs for the azurerm resources Skyloft creates, over the generic provider/resource (no
 * @cdktf/provider-azurerm: see stacks/generic.ts). Attribute names are azurerm 4.x's.
 * https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs
 */
const AZURERM = PINNED_PROVIDERS.azurerm;
const TAGGED: GenericResourceOptions = { providerName: AZURERM.name, tagAttribute: 'tags' };
const UNTAGGED: GenericResourceOptions = { providerName: AZURERM.name };

/**
 * The azurerm provider with no credentials and no subscription: both come from the environment at run time
 * (ARM_CLIENT_ID, ARM_CLIENT_SECRET, ARM_TENANT_ID, ARM_SUBSCRIPTION_ID). `features {}` is mandatory.
 */
export function azurermProvider(scope: Construct): GenericProvider {
  return new GenericProvider(scope, AZURERM, { features: {} });
}

export class ResourceGroup extends GenericResource {
  constructor(scope: Construct, id: string, c: { name: string; location: string }) {
    super(scope, id, 'azurerm_resource_group', { name: c.name, location: c.location }, TAGGED);
  }
  get name(): string {
    return this.attr('name');
  }
}

interface InGroup {
  name: string;
  resourceGroupName: string;
  location: string;
}

export class VirtualNetwork extends GenericResource {
  constructor(scope: Construct, id: string, c: InGroup & { addressSpace: string[] }) {
    const { name, resourceGroupName: resource_group_name, location, addressSpace: address_space } = c;
    super(scope, id, 'azurerm_virtual_network', { name, resource_group_name, location, address_space }, TAGGED);
  }
  get name(): string {
    return this.attr('name');
  }
}

/** Subnets carry no tags in azurerm. */
export class Subnet extends GenericResource {
  constructor(scope: Construct, id: string, c: Omit<InGroup, 'location'> & { virtualNetworkName: string; addressPrefix: string }) {
    super(scope, id, 'azurerm_subnet', {
      name: c.name,
      resource_group_name: c.resourceGroupName,
      virtual_network_name: c.virtualNetworkName,
      address_prefixes: [c.addressPrefix],
    }, UNTAGGED);
  }
}

/** A storage account that refuses public blobs, plain http and TLS below 1.2. */
export class StorageAccount extends GenericResource {
  constructor(scope: Construct, id: string, c: InGroup & { tier: 'Standard' | 'Premium'; replication: string }) {
    super(scope, id, 'azurerm_storage_account', {
      name: c.name,
      resource_group_name: c.resourceGroupName,
      location: c.location,
      account_tier: c.tier,
      account_replication_type: c.replication,
      min_tls_version: 'TLS1_2',
      https_traffic_only_enabled: true,
      allow_nested_items_to_be_public: false,
    }, TAGGED);
  }
}

export class NetworkInterface extends GenericResource {
  constructor(scope: Construct, id: string, c: InGroup & { subnetId: string }) {
    super(scope, id, 'azurerm_network_interface', {
      name: c.name,
      resource_group_name: c.resourceGroupName,
      location: c.location,
      ip_configuration: [{ name: 'primary', subnet_id: c.subnetId, private_ip_address_allocation: 'Dynamic' }],
    }, TAGGED);
  }
}

export interface ImageReference {
  publisher: string;
  offer: string;
  sku: string;
  version: string;
}

/** A Linux VM reachable by SSH key only (no password authentication). */
export class LinuxVirtualMachine extends GenericResource {
  constructor(
    scope: Construct,
    id: string,
    c: InGroup & { size: string; adminUsername: string; sshPublicKey: string; networkInterfaceIds: string[]; image: ImageReference; osDiskType?: string },
  ) {
    super(scope, id, 'azurerm_linux_virtual_machine', {
      name: c.name,
      resource_group_name: c.resourceGroupName,
      location: c.location,
      size: c.size,
      admin_username: c.adminUsername,
      disable_password_authentication: true,
      admin_ssh_key: [{ username: c.adminUsername, public_key: c.sshPublicKey }],
      network_interface_ids: c.networkInterfaceIds,
      os_disk: [{ caching: 'ReadWrite', storage_account_type: c.osDiskType ?? 'Standard_LRS' }],
      source_image_reference: [c.image],
    }, TAGGED);
  }
}
