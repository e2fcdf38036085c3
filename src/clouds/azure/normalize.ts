import type { Disk, VirtualMachine } from '@azure/arm-compute';
import type { VirtualNetwork } from '@azure/arm-network';
import type { ObservedItem } from '../ports.ts';

/**
 * ARM objects (as @azure/arm-compute 25 / arm-network 39 flatten them) into inventory items. The external id is the
 * full ARM resource id; location and resource group go into metadata, since one scope covers the subscription.
 */
const POWER_STATES: Record<string, string> = {
  starting: 'pending',
  running: 'running',
  stopping: 'stopping',
  deallocating: 'stopping',
  stopped: 'stopped',
  deallocated: 'stopped',
};

/** statusOnly=true adds the instance view: its PowerState/<state> status is the VM's run state. */
function vmStatus(vm: VirtualMachine): string {
  const power = vm.instanceView?.statuses?.find((s) => s.code?.startsWith('PowerState/'))?.code?.slice('PowerState/'.length);
  if (power) return POWER_STATES[power.toLowerCase()] ?? 'unknown';
  // Without an instance view only the provisioning state tells anything.
  const provisioning = vm.provisioningState?.toLowerCase();
  if (provisioning === 'creating') return 'pending';
  if (provisioning === 'deleting') return 'terminated';
  return 'unknown';
}

export const resourceGroupOf = (id: string | undefined) => /\/resourceGroups\/([^/]+)/i.exec(id ?? '')?.[1] ?? null;
const iso = (d: Date | undefined) => (d ? d.toISOString() : null);
const tagsOf = (tags: Record<string, string> | undefined) => ({ ...tags });

export function virtualMachineItem(vm: VirtualMachine): ObservedItem {
  return {
    externalId: vm.id!,
    name: vm.name ?? null,
    type: 'vm',
    status: vmStatus(vm),
    tags: tagsOf(vm.tags),
    ...(vm.location && { region: vm.location }),
    metadata: {
      location: vm.location ?? null,
      resourceGroup: resourceGroupOf(vm.id),
      vmSize: vm.hardwareProfile?.vmSize ?? null,
      zones: vm.zones ?? [],
      osType: vm.storageProfile?.osDisk?.osType ?? null,
      osDiskId: vm.storageProfile?.osDisk?.managedDisk?.id ?? null,
      provisioningState: vm.provisioningState ?? null,
      timeCreated: iso(vm.timeCreated),
      vmId: vm.vmId ?? null,
    },
  };
}

export function diskItem(d: Disk): ObservedItem {
  return {
    externalId: d.id!,
    name: d.name ?? null,
    type: 'storage',
    status: d.diskState ?? d.provisioningState ?? 'unknown',
    tags: tagsOf(d.tags),
    ...(d.location && { region: d.location }),
    metadata: {
      location: d.location ?? null,
      resourceGroup: resourceGroupOf(d.id),
      sizeGb: d.diskSizeGB ?? null,
      sku: d.sku?.name ?? null,
      zones: d.zones ?? [],
      managedBy: d.managedBy ?? null,
      osType: d.osType ?? null,
      timeCreated: iso(d.timeCreated),
    },
  };
}

export function virtualNetworkItem(n: VirtualNetwork): ObservedItem {
  return {
    externalId: n.id!,
    name: n.name ?? null,
    type: 'network',
    status: n.provisioningState ?? 'unknown',
    tags: tagsOf(n.tags),
    ...(n.location && { region: n.location }),
    metadata: {
      location: n.location ?? null,
      resourceGroup: resourceGroupOf(n.id),
      addressPrefixes: n.addressSpace?.addressPrefixes ?? [],
      subnets: (n.subnets ?? []).map((s) => ({ name: s.name ?? null, addressPrefix: s.addressPrefix ?? null })),
    },
  };
}
