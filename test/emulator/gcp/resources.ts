import type { Fleet, Item, Scope } from '../fleet.ts';

/**
 * Compute Engine JSON for instances, disks, networks and regions, as the v1 REST API returns it (int64 fields as
 * strings, resource references as full URLs, labels lowercased as GCE requires).
 */
export const API = 'https://www.googleapis.com/compute/v1';

export interface GceContext {
  project: string;
  fleet: Fleet;
}

/** GCE ids are 19-digit numbers; this one encodes the scope and index so mutations can name it. */
export function numericId(scope: Scope, index: number): string {
  return `1${String(parseInt(scope.code, 16)).padStart(8, '0')}${String(index).padStart(10, '0')}`;
}

export const regionOf = (zone: string) => zone.replace(/-[a-z]$/, '');

export function labels(tags: Record<string, string>): Record<string, string> {
  const clean = (s: string) => s.toLowerCase().replace(/[^a-z0-9_-]/g, '_').slice(0, 63);
  return Object.fromEntries(Object.entries(tags).map(([k, v]) => [clean(k), clean(v)]));
}

/** RFC 3339 with the Pacific offset GCE uses in creationTimestamp. */
function timestamp(d: Date): string {
  return new Date(d.getTime() - 7 * 3_600_000).toISOString().replace('Z', '-07:00');
}

function sibling(c: GceContext, it: Item, kind: string): Item | undefined {
  const scope = c.fleet.scopes('gcp', kind, it.scope.region)[0];
  return scope && scope.base > 0 ? c.fleet.item(scope, it.index % scope.base) : undefined;
}

export function instanceJson(it: Item, c: GceContext): object {
  const d = it.draw;
  const zoneUrl = `${API}/projects/${c.project}/zones/${it.zone}`;
  const disk = sibling(c, it, 'disks');
  const diskName = disk?.id ?? it.id;
  const ip = `10.${d.between(128, 191)}.${d.int(256)}.${d.between(2, 250)}`;
  const running = it.state === 'RUNNING';
  return {
    kind: 'compute#instance',
    id: numericId(it.scope, it.index),
    creationTimestamp: timestamp(it.createdAt),
    name: it.id,
    description: '',
    tags: { fingerprint: d.hex(12) },
    machineType: `${zoneUrl}/machineTypes/${it.type}`,
    status: it.state,
    zone: zoneUrl,
    canIpForward: false,
    networkInterfaces: [{
      kind: 'compute#networkInterface',
      network: `${API}/projects/${c.project}/global/networks/default`,
      subnetwork: `${API}/projects/${c.project}/regions/${regionOf(it.zone)}/subnetworks/default`,
      networkIP: ip,
      name: 'nic0',
      ...(running && d.next() < 0.3
        ? { accessConfigs: [{ kind: 'compute#accessConfig', type: 'ONE_TO_ONE_NAT', name: 'External NAT', natIP: `34.${d.int(256)}.${d.int(256)}.${d.between(1, 254)}`, networkTier: 'PREMIUM' }] }
        : {}),
      fingerprint: d.hex(12),
      stackType: 'IPV4_ONLY',
    }],
    disks: [{
      kind: 'compute#attachedDisk',
      type: 'PERSISTENT',
      mode: 'READ_WRITE',
      source: `${zoneUrl}/disks/${diskName}`,
      deviceName: diskName,
      index: 0,
      boot: true,
      autoDelete: true,
      licenses: ['https://www.googleapis.com/compute/v1/projects/debian-cloud/global/licenses/debian-12-bookworm'],
      interface: 'SCSI',
      guestOsFeatures: [{ type: 'UEFI_COMPATIBLE' }, { type: 'VIRTIO_SCSI_MULTIQUEUE' }, { type: 'GVNIC' }],
      diskSizeGb: String(disk?.sizeGb ?? 10),
      architecture: 'X86_64',
    }],
    metadata: { kind: 'compute#metadata', fingerprint: d.hex(12) },
    serviceAccounts: [{ email: `${d.digits(12)}-compute@developer.gserviceaccount.com`, scopes: ['https://www.googleapis.com/auth/cloud-platform'] }],
    selfLink: `${zoneUrl}/instances/${it.id}`,
    scheduling: { onHostMaintenance: 'MIGRATE', automaticRestart: true, preemptible: false, provisioningModel: 'STANDARD' },
    cpuPlatform: running ? 'Intel Cascade Lake' : 'Unknown CPU Platform',
    labels: labels(it.tags),
    labelFingerprint: d.hex(12),
    startRestricted: false,
    deletionProtection: false,
    shieldedInstanceConfig: { enableSecureBoot: false, enableVtpm: true, enableIntegrityMonitoring: true },
    fingerprint: d.hex(12),
    ...(running ? { lastStartTimestamp: timestamp(it.createdAt) } : { lastStopTimestamp: timestamp(it.createdAt) }),
    satisfiesPzi: true,
  };
}

export function diskJson(it: Item, c: GceContext): object {
  const d = it.draw;
  const zoneUrl = `${API}/projects/${c.project}/zones/${it.zone}`;
  const vm = sibling(c, it, 'instances');
  return {
    kind: 'compute#disk',
    id: numericId(it.scope, it.index),
    creationTimestamp: timestamp(it.createdAt),
    name: it.id,
    sizeGb: String(it.sizeGb),
    zone: zoneUrl,
    status: it.state,
    selfLink: `${zoneUrl}/disks/${it.id}`,
    sourceImage: `${API}/projects/debian-cloud/global/images/debian-12-bookworm-v20240312`,
    sourceImageId: d.digits(19),
    type: `${zoneUrl}/diskTypes/${it.type}`,
    licenses: [`${API}/projects/debian-cloud/global/licenses/debian-12-bookworm`],
    guestOsFeatures: [{ type: 'UEFI_COMPATIBLE' }, { type: 'GVNIC' }],
    lastAttachTimestamp: timestamp(it.createdAt),
    ...(vm && d.next() < 0.8 ? { users: [`${zoneUrl}/instances/${vm.id}`] } : {}),
    labels: labels(it.tags),
    labelFingerprint: d.hex(12),
    physicalBlockSizeBytes: '4096',
    architecture: 'X86_64',
    satisfiesPzi: true,
  };
}

export function networkJson(it: Item, c: GceContext, regions: string[]): object {
  const self = `${API}/projects/${c.project}/global/networks/${it.id}`;
  const id = numericId(it.scope, it.index);
  return {
    kind: 'compute#network',
    id,
    creationTimestamp: timestamp(it.createdAt),
    name: it.id,
    description: `${it.tags.team ?? 'shared'} network`,
    selfLink: self,
    selfLinkWithId: `${API}/projects/${c.project}/global/networks/${id}`,
    autoCreateSubnetworks: true,
    subnetworks: regions.map((r) => `${API}/projects/${c.project}/regions/${r}/subnetworks/${it.id}`),
    routingConfig: { routingMode: 'REGIONAL', bgpBestPathSelectionMode: 'LEGACY' },
    networkFirewallPolicyEnforcementOrder: 'AFTER_CLASSIC_FIREWALL',
    mtu: 1460,
  };
}

export function regionJson(name: string, zones: string[], project: string, n: number): object {
  return {
    kind: 'compute#region',
    id: String(1000 + n),
    creationTimestamp: '1969-12-31T16:00:00.000-08:00',
    name,
    description: name,
    status: 'UP',
    zones: zones.map((z) => `${API}/projects/${project}/zones/${z}`),
    quotas: [
      { metric: 'CPUS', limit: 2400, usage: 0 },
      { metric: 'DISKS_TOTAL_GB', limit: 102400, usage: 0 },
      { metric: 'IN_USE_ADDRESSES', limit: 690, usage: 0 },
    ],
    selfLink: `${API}/projects/${project}/regions/${name}`,
    supportsPzs: true,
  };
}
