/**
 * One word for an inventory item's state across clouds and types, beside `status` (which stays what the adapter
 * reported: vms already normalized, storage and networks as each cloud says, such as `READY`, `available`, `in-use`,
 * `Succeeded`). Computed at read time from the status alone, so it needs no column and covers every stored row.
 * A transition counts as where it leads (`stopping` is stopped, `creating` pending); a failed or unrecognized status
 * is `unknown`. test/unit/inventory-state.test.ts feeds it every status the adapters can produce.
 */
export const INVENTORY_STATES = ['pending', 'running', 'stopped', 'terminated', 'available', 'deleting', 'unknown'] as const;
export type InventoryState = (typeof INVENTORY_STATES)[number];

/** Lowercased status → state. Sources: the adapters in src/clouds (aws, azure, gcp, sandbox) and the SDKs' enums. */
const STATES: Record<string, InventoryState> = {
  // vms, as every adapter normalizes them (AWS instance state, Azure power state, GCE instance status; the sandbox's)
  pending: 'pending',
  running: 'running',
  stopping: 'stopped',
  stopped: 'stopped',
  terminated: 'terminated',
  // AWS: EBS volumes (creating, available, in-use, deleting, deleted, error), VPCs and subnets (pending, available,
  // unavailable, failed...); security groups and S3 buckets are always `available`
  creating: 'pending',
  available: 'available',
  'in-use': 'available',
  deleting: 'deleting',
  deleted: 'terminated',
  // Azure: a disk's diskState, else a disk's or virtual network's provisioningState
  unattached: 'available',
  attached: 'available',
  reserved: 'available',
  frozen: 'available',
  activesas: 'available',
  activesasfrozen: 'available',
  readytoupload: 'pending',
  activeupload: 'pending',
  succeeded: 'available',
  updating: 'available',
  migrating: 'available',
  // GCP: a persistent disk's status (CREATING, RESTORING, READY, DELETING, FAILED); networks are `available`, as are
  // the sandbox's storage and networks
  restoring: 'pending',
  ready: 'available',
};

export function inventoryState(status: string): InventoryState {
  return STATES[status.toLowerCase()] ?? 'unknown';
}

/** The lowercased statuses that read as `state` (for filtering in SQL); for `unknown`, those that read as anything else. */
export function statusesOf(state: InventoryState): { statuses: string[]; negate: boolean } {
  if (state === 'unknown') return { statuses: Object.keys(STATES), negate: true };
  return { statuses: Object.entries(STATES).filter(([, s]) => s === state).map(([status]) => status), negate: false };
}
