import type { google } from '@google-cloud/compute/build/protos/protos.js';
import type { ObservedItem } from '../ports.ts';

/** Compute Engine objects into inventory items. GCE ids are uint64 numbers, kept as strings. */
type Instance = google.cloud.compute.v1.IInstance;
type Disk = google.cloud.compute.v1.IDisk;
type Network = google.cloud.compute.v1.INetwork;

/** GCE's TERMINATED is a stopped instance (it can be started again), not a deleted one. */
const VM_STATUS: Record<string, string> = {
  PENDING: 'pending',
  PROVISIONING: 'pending',
  STAGING: 'pending',
  REPAIRING: 'pending',
  RUNNING: 'running',
  STOPPING: 'stopping',
  SUSPENDING: 'stopping',
  PENDING_STOP: 'stopping',
  DEPROVISIONING: 'stopping',
  STOPPED: 'stopped',
  SUSPENDED: 'stopped',
  TERMINATED: 'stopped',
};

/** The last segment of a resource URL: `.../zones/us-central1-a/machineTypes/e2-medium` → `e2-medium`. */
export const lastSegment = (url: string | null | undefined) => (url ? url.slice(url.lastIndexOf('/') + 1) : null);
/** Aggregated lists key their entries `zones/us-central1-a`; the region is the zone without its letter. */
export const regionOfZone = (zone: string | null) => (zone ? zone.replace(/-[a-z]$/, '') : null);

const tagsOf = (labels: Record<string, string> | null | undefined) => ({ ...labels });

export function instanceItem(i: Instance, zone: string | null): ObservedItem {
  return {
    externalId: String(i.id),
    name: i.name ?? null,
    type: 'vm',
    status: VM_STATUS[String(i.status ?? '')] ?? 'unknown',
    tags: tagsOf(i.labels),
    ...(zone && { region: regionOfZone(zone)! }),
    metadata: {
      machineType: lastSegment(i.machineType),
      zone,
      region: regionOfZone(zone),
      gceStatus: i.status ?? null,
      creationTimestamp: i.creationTimestamp ?? null,
      networkIP: i.networkInterfaces?.[0]?.networkIP ?? null,
      natIP: i.networkInterfaces?.[0]?.accessConfigs?.[0]?.natIP ?? null,
      network: lastSegment(i.networkInterfaces?.[0]?.network),
      disks: (i.disks ?? []).map((d) => lastSegment(d.source)),
      selfLink: i.selfLink ?? null,
    },
  };
}

export function diskItem(d: Disk, zone: string | null): ObservedItem {
  return {
    externalId: String(d.id),
    name: d.name ?? null,
    type: 'storage',
    status: String(d.status ?? 'unknown'),
    tags: tagsOf(d.labels),
    ...(zone && { region: regionOfZone(zone)! }),
    metadata: {
      sizeGb: d.sizeGb === null || d.sizeGb === undefined ? null : Number(d.sizeGb),
      diskType: lastSegment(d.type),
      zone,
      region: regionOfZone(zone),
      users: (d.users ?? []).map(lastSegment),
      creationTimestamp: d.creationTimestamp ?? null,
      selfLink: d.selfLink ?? null,
    },
  };
}

export function networkItem(n: Network): ObservedItem {
  return {
    externalId: String(n.id),
    name: n.name ?? null,
    type: 'network',
    // Networks have no lifecycle state in GCE: listed means it exists.
    status: 'available',
    tags: {},
    metadata: {
      autoCreateSubnetworks: n.autoCreateSubnetworks ?? null,
      routingMode: n.routingConfig?.routingMode ?? null,
      mtu: n.mtu ?? null,
      subnetworks: n.subnetworks?.length ?? 0,
      selfLink: n.selfLink ?? null,
    },
  };
}
