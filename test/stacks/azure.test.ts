import { describe, expect, it } from 'vitest';
import { AzureNetworkStack } from '../../stacks/azure/network.ts';
import { AzureStorageStack } from '../../stacks/azure/storage.ts';
import { AzureVmStack, type AzureVmSpec } from '../../stacks/azure/vm.ts';
import { common, expectEmptyHttpBackend, expectNoCredentials, expectTagged, only, synth, tf, type TfDoc } from './helpers.ts';

const vmSpec: AzureVmSpec = {
  size: 'Standard_B1s',
  adminUsername: 'skyloft',
  sshPublicKey: 'ssh-ed25519 AAAAC3Nza test',
  image: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
};

/** azurerm from hashicorp/azurerm, `features {}` and nothing else: no credentials, no subscription. */
function expectAzurermProvider(doc: TfDoc): void {
  expect(doc.provider?.['azurerm']).toEqual([{ features: {} }]);
  expect(doc.terraform.required_providers?.['azurerm']).toEqual({ source: 'hashicorp/azurerm', version: '4.54.0' });
  expectNoCredentials(doc);
  expectEmptyHttpBackend(doc);
}

describe('azure stacks (generic azurerm constructs)', () => {
  it('vm: resource group, NIC on the network subnet, Linux VM with SSH key only', () => {
    const network = { outputs: { subnet_id: '/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/a' } };
    const { json, doc } = synth((app) => new AzureVmStack(app, 'vm', { ...common, spec: vmSpec, network }));

    expect(json).toHaveResourceWithProperties(tf('azurerm_resource_group'), { name: 'skyloft-web-1-res-01jabcdef', location: 'eu-west-1' });
    expect(json).toHaveResourceWithProperties(tf('azurerm_network_interface'), {
      resource_group_name: '${azurerm_resource_group.resource-group.name}',
      ip_configuration: [{ name: 'primary', subnet_id: network.outputs.subnet_id, private_ip_address_allocation: 'Dynamic' }],
    });
    expect(json).toHaveResourceWithProperties(tf('azurerm_linux_virtual_machine'), {
      size: 'Standard_B1s',
      admin_username: 'skyloft',
      disable_password_authentication: true,
      admin_ssh_key: [{ username: 'skyloft', public_key: 'ssh-ed25519 AAAAC3Nza test' }],
      network_interface_ids: ['${azurerm_network_interface.network-interface.id}'],
      source_image_reference: [vmSpec.image],
    });
    // The managed network feeds the vm: no network of its own.
    expect(doc.resource['azurerm_virtual_network']).toBeUndefined();
    expectTagged(doc, ['azurerm_resource_group', 'azurerm_network_interface', 'azurerm_linux_virtual_machine'], 'tags');
    expectAzurermProvider(doc);
  });

  it('vm: without a network it gets a small one of its own', () => {
    const { doc } = synth((app) => new AzureVmStack(app, 'vm', { ...common, spec: vmSpec }));
    expect(only(doc, 'azurerm_subnet')['address_prefixes']).toEqual(['10.0.0.0/24']);
    expect(only(doc, 'azurerm_network_interface')['ip_configuration']).toEqual([
      expect.objectContaining({ subnet_id: '${azurerm_subnet.subnet.id}' }),
    ]);
  });

  it('storage: a storage account refusing public blobs and old TLS', () => {
    const { json, doc } = synth((app) => new AzureStorageStack(app, 'st', { ...common, spec: { replication: 'ZRS' } }));
    expect(json).toHaveResourceWithProperties(tf('azurerm_storage_account'), {
      name: 'slres01jabcdef',
      account_tier: 'Standard',
      account_replication_type: 'ZRS',
      min_tls_version: 'TLS1_2',
      https_traffic_only_enabled: true,
      allow_nested_items_to_be_public: false,
      resource_group_name: '${azurerm_resource_group.resource-group.name}',
    });
    expectTagged(doc, ['azurerm_resource_group', 'azurerm_storage_account'], 'tags');
    expectAzurermProvider(doc);
  });

  it('network: a virtual network and its subnets, with the outputs a vm consumes', () => {
    const spec = { addressSpace: ['10.1.0.0/16'], subnets: [{ name: 'app', addressPrefix: '10.1.1.0/24' }, { name: 'db', addressPrefix: '10.1.2.0/24' }] };
    const { json, doc } = synth((app) => new AzureNetworkStack(app, 'net', { ...common, spec }));

    expect(json).toHaveResourceWithProperties(tf('azurerm_virtual_network'), { name: 'web-1', address_space: ['10.1.0.0/16'] });
    expect(json).toHaveResourceWithProperties(tf('azurerm_subnet'), {
      name: 'db',
      virtual_network_name: '${azurerm_virtual_network.virtual-network.name}',
      address_prefixes: ['10.1.2.0/24'],
    });
    expectTagged(doc, ['azurerm_resource_group', 'azurerm_virtual_network'], 'tags');
    // azurerm subnets have no tags: the aspect must not invent the attribute.
    for (const subnet of Object.values(doc.resource['azurerm_subnet'] ?? {})) expect(subnet).not.toHaveProperty('tags');
    expect(doc.output['subnet_id']).toEqual({ value: '${azurerm_subnet.subnet-0.id}' });
    expect(doc.output['resource_group_name']).toEqual({ value: '${azurerm_resource_group.resource-group.name}' });
    expectAzurermProvider(doc);
  });
});
