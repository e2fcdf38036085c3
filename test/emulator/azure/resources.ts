import type { Fleet, Item } from '../fleet.ts';

/**
 * Azure Resource Manager JSON for virtual machines, managed disks, virtual networks and locations, in the wire
 * shape (`properties` nested; @azure/arm-compute 25 flattens it on read).
 */
export interface ArmContext {
  subscriptionId: string;
  fleet: Fleet;
  /** Include `properties.instanceView` (statusOnly=true or $expand=instanceView). */
  instanceView: boolean;
}

const sub = (c: ArmContext) => `/subscriptions/${c.subscriptionId}`;
export const resourceGroup = (location: string) => `rg-${location}`;
const rgPath = (c: ArmContext, location: string) => `${sub(c)}/resourceGroups/${resourceGroup(location)}`;

function sibling(c: ArmContext, it: Item, kind: string): Item | undefined {
  const scope = c.fleet.scopes('azure', kind, it.scope.region)[0];
  return scope && scope.base > 0 ? c.fleet.item(scope, it.index % scope.base) : undefined;
}

const POWER: Record<string, string> = { running: 'VM running', deallocated: 'VM deallocated', stopped: 'VM stopped', starting: 'VM starting' };

export function virtualMachineJson(it: Item, c: ArmContext): object {
  const d = it.draw;
  const rg = rgPath(c, it.scope.region);
  const disk = sibling(c, it, 'disks');
  const osDiskId = disk ? `${rg}/providers/Microsoft.Compute/disks/${disk.id}` : `${rg}/providers/Microsoft.Compute/disks/${it.id}_OsDisk_1_${d.hex(32)}`;
  const windows = d.next() < 0.2;
  const properties: Record<string, unknown> = {
    vmId: d.uuid(),
    hardwareProfile: { vmSize: it.type },
    storageProfile: {
      imageReference: windows
        ? { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022-datacenter-azure-edition', version: 'latest', exactVersion: '20348.2340.240303' }
        : { publisher: 'Canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts-gen2', version: 'latest', exactVersion: '22.04.202403010' },
      osDisk: {
        osType: windows ? 'Windows' : 'Linux',
        name: disk?.id ?? `${it.id}_OsDisk_1`,
        createOption: 'FromImage',
        caching: 'ReadWrite',
        managedDisk: { storageAccountType: disk?.type ?? 'Premium_LRS', id: osDiskId },
        deleteOption: 'Delete',
        diskSizeGB: disk?.sizeGb ?? 30,
      },
      dataDisks: [],
      diskControllerType: 'SCSI',
    },
    osProfile: {
      computerName: it.id,
      adminUsername: 'azureuser',
      ...(windows
        ? { windowsConfiguration: { provisionVMAgent: true, enableAutomaticUpdates: true, patchSettings: { patchMode: 'AutomaticByOS', assessmentMode: 'ImageDefault' } } }
        : { linuxConfiguration: { disablePasswordAuthentication: true, provisionVMAgent: true, patchSettings: { patchMode: 'ImageDefault', assessmentMode: 'ImageDefault' } } }),
      secrets: [],
      allowExtensionOperations: true,
      requireGuestProvisionSignal: true,
    },
    networkProfile: {
      networkInterfaces: [{ id: `${rg}/providers/Microsoft.Network/networkInterfaces/${it.id}-nic`, properties: { deleteOption: 'Delete' } }],
    },
    securityProfile: { uefiSettings: { secureBootEnabled: true, vTpmEnabled: true }, securityType: 'TrustedLaunch' },
    diagnosticsProfile: { bootDiagnostics: { enabled: true } },
    provisioningState: 'Succeeded',
    timeCreated: it.createdAt.toISOString(),
  };
  if (c.instanceView) {
    properties.instanceView = {
      computerName: it.id,
      osName: windows ? 'Windows Server 2022 Datacenter Azure Edition' : 'ubuntu',
      statuses: [
        { code: 'ProvisioningState/succeeded', level: 'Info', displayStatus: 'Provisioning succeeded', time: it.createdAt.toISOString() },
        { code: `PowerState/${it.state}`, level: 'Info', displayStatus: POWER[it.state] ?? `VM ${it.state}` },
      ],
    };
  }
  return {
    name: it.id,
    id: `${rg}/providers/Microsoft.Compute/virtualMachines/${it.id}`,
    type: 'Microsoft.Compute/virtualMachines',
    location: it.scope.region,
    tags: it.tags,
    zones: [it.zone],
    properties,
  };
}

export function diskJson(it: Item, c: ArmContext): object {
  const d = it.draw;
  const rg = rgPath(c, it.scope.region);
  const vm = it.state === 'Attached' ? sibling(c, it, 'virtualMachines') : undefined;
  const tier = it.type === 'Premium_LRS' ? 'Premium' : 'Standard';
  return {
    name: it.id,
    id: `${rg}/providers/Microsoft.Compute/disks/${it.id}`,
    type: 'Microsoft.Compute/disks',
    location: it.scope.region,
    tags: it.tags,
    ...(vm ? { managedBy: `${rg}/providers/Microsoft.Compute/virtualMachines/${vm.id}` } : {}),
    sku: { name: it.type, tier },
    zones: [it.zone],
    properties: {
      osType: 'Linux',
      hyperVGeneration: 'V2',
      creationData: { createOption: 'FromImage', imageReference: { id: `/Subscriptions/${c.subscriptionId}/Providers/Microsoft.Compute/Locations/${it.scope.region}/Publishers/canonical/ArtifactTypes/VMImage/Offers/0001-com-ubuntu-server-jammy/Skus/22_04-lts-gen2/Versions/22.04.202403010` } },
      diskSizeGB: it.sizeGb,
      diskIOPSReadWrite: tier === 'Premium' ? 120 + it.sizeGb * 5 : 500,
      diskMBpsReadWrite: tier === 'Premium' ? 25 : 60,
      encryption: { type: 'EncryptionAtRestWithPlatformKey' },
      networkAccessPolicy: 'AllowAll',
      publicNetworkAccess: 'Enabled',
      timeCreated: it.createdAt.toISOString(),
      provisioningState: 'Succeeded',
      diskState: it.state,
      diskSizeBytes: it.sizeGb * 1024 ** 3,
      uniqueId: d.uuid(),
      tier: tier === 'Premium' ? 'P10' : undefined,
    },
  };
}

export function virtualNetworkJson(it: Item, c: ArmContext): object {
  const d = it.draw;
  const id = `${rgPath(c, it.scope.region)}/providers/Microsoft.Network/virtualNetworks/${it.id}`;
  const prefix = `10.${it.index % 256}`;
  return {
    name: it.id,
    id,
    etag: `W/"${d.uuid()}"`,
    type: 'Microsoft.Network/virtualNetworks',
    location: it.scope.region,
    tags: it.tags,
    properties: {
      provisioningState: it.state,
      resourceGuid: d.uuid(),
      addressSpace: { addressPrefixes: [`${prefix}.0.0/16`] },
      subnets: ['default', 'workloads'].map((name, i) => ({
        name,
        id: `${id}/subnets/${name}`,
        etag: `W/"${d.uuid()}"`,
        properties: { provisioningState: 'Succeeded', addressPrefix: `${prefix}.${i}.0/24`, delegations: [], privateEndpointNetworkPolicies: 'Disabled', privateLinkServiceNetworkPolicies: 'Enabled' },
        type: 'Microsoft.Network/virtualNetworks/subnets',
      })),
      virtualNetworkPeerings: [],
      enableDdosProtection: false,
    },
  };
}

const DISPLAY: Record<string, [string, string, string]> = {
  eastus: ['East US', 'US', 'Virginia'],
  westus2: ['West US 2', 'US', 'Washington'],
  westeurope: ['West Europe', 'Europe', 'Netherlands'],
  northeurope: ['North Europe', 'Europe', 'Ireland'],
  southeastasia: ['Southeast Asia', 'Asia Pacific', 'Singapore'],
};

export function locationJson(name: string, subscriptionId: string): object {
  const [display, geography, physical] = DISPLAY[name] ?? [name, 'Other', name];
  return {
    id: `/subscriptions/${subscriptionId}/locations/${name}`,
    name,
    type: 'Region',
    displayName: display,
    regionalDisplayName: `(${geography}) ${display}`,
    metadata: { regionType: 'Physical', regionCategory: 'Recommended', geographyGroup: geography, physicalLocation: physical, pairedRegion: [] },
    availabilityZoneMappings: ['1', '2', '3'].map((z) => ({ logicalZone: z, physicalZone: `${name}-az${z}` })),
  };
}
