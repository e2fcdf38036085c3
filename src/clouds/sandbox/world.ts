import type { InventoryType, ObservedItem, SandboxAccount, SandboxObject, SandboxResource } from '../ports.ts';
import { digest, uuidFrom } from './hash.ts';

/** One scope per kind (region `global`, each item carries its region): a destroyed resource's region still gets swept. */
export const SANDBOX_KINDS: Record<InventoryType, string> = { vm: 'sandbox:vm', storage: 'sandbox:storage', network: 'sandbox:network' };

/** Where the sandbox's own objects are (the README's sandbox resources are created there too). */
export const SANDBOX_REGION = 'local';

/**
 * What the sandbox holds besides Skyloft's own resources, so every classification shows on a first tour: objects
 * nobody made through Skyloft (unmanaged), and objects tagged by a Skyloft resource that does not exist in the
 * account (orphaned, as an uninstalled Skyloft or a `terraform state rm` leaves them). Each was created `ageDays`
 * before the credential was registered, and is billed from then on.
 */
export interface Decoy {
  key: string;
  type: InventoryType;
  name: string;
  status: string;
  size?: string;
  ageDays: number;
  orphan?: true;
  tags: Record<string, string>;
}

export const DECOYS: readonly Decoy[] = [
  { key: 'bastion', type: 'vm', name: 'legacy-bastion', status: 'running', size: 'small', ageDays: 180, tags: { owner: 'platform', purpose: 'ssh-jump-host' } },
  { key: 'ci-runner', type: 'vm', name: 'ci-runner-3', status: 'stopped', size: 'medium', ageDays: 40, tags: { owner: 'ci' } },
  { key: 'shared-files', type: 'storage', name: 'team-shared-files', status: 'available', ageDays: 365, tags: { owner: 'data' } },
  { key: 'default-network', type: 'network', name: 'default', status: 'available', ageDays: 365, tags: {} },
  { key: 'old-web', type: 'vm', name: 'old-web-1', status: 'running', size: 'large', ageDays: 90, orphan: true, tags: { owner: 'web' } },
  { key: 'old-backups', type: 'storage', name: 'old-backups', status: 'available', ageDays: 120, orphan: true, tags: {} },
];

const ID_PREFIX: Record<InventoryType, string> = { vm: 'sbx-vm-', storage: 'sbx-st-', network: 'sbx-net-' };
const STATUS: Record<InventoryType, string> = { vm: 'running', storage: 'available', network: 'available' };

/** A decoy's id: different for every credential, the same at every sync. */
export const decoyId = (credentialId: string, d: Decoy): string => `${ID_PREFIX[d.type]}${digest('decoy', credentialId, d.key).toString('hex').slice(0, 12)}`;

/** The skyloft-resource-id an orphan carries: a resource id no account has. */
export const orphanTag = (credentialId: string, d: Decoy): string => uuidFrom('orphan', credentialId, d.key);

/** The spec fields drift compares, in the order src/modules/inventory/sync.ts reads a spec. */
export const DRIFT_KEYS = ['instanceType', 'size', 'machineType'] as const;

/**
 * The sandbox's example of drift: its oldest live vm whose spec has a size (one of DRIFT_KEYS) is reported resized
 * outside Skyloft, to `large` (to `medium` when it is large). Nothing else changes the sandbox behind Skyloft's back.
 */
export function resizedTo(value: unknown): string {
  return String(value) === 'large' ? 'medium' : 'large';
}

export function driftExample(resources: readonly SandboxResource[]): SandboxResource | undefined {
  return resources.find((r) => r.type === 'vm' && r.live && r.objects.some((o) => sizeOf(o) !== undefined));
}

/** Everything the credential's sandbox holds now: the live objects of its resources, then the decoys. */
export function sandboxItems(credentialId: string, account: SandboxAccount): ObservedItem[] {
  const resized = driftExample(account.resources);
  return [
    ...account.resources.filter((r) => r.live).flatMap((r) => r.objects.map((o) => managedItem(r, o, r === resized))),
    ...DECOYS.map((d) => decoyItem(credentialId, account.accountId, d)),
  ];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown) => (typeof v === 'string' && v.length <= 200) || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';

/** The first DRIFT_KEYS field of an object's spec, as applied. */
function sizeOf(o: SandboxObject): { key: string; value: unknown } | undefined {
  const spec = isObject(o.input.spec) ? o.input.spec : {};
  const key = DRIFT_KEYS.find((k) => spec[k] !== undefined && spec[k] !== null);
  return key && isScalar(spec[key]) ? { key, value: spec[key] } : undefined;
}

/** At most `max` entries of `from` that pass `keep`: the essentials a state holds, bounded whatever was written to it. */
function bounded(from: unknown, keep: (v: unknown) => boolean, max: number): Record<string, unknown> {
  if (!isObject(from)) return {};
  return Object.fromEntries(Object.entries(from).filter(([k, v]) => k.length <= 128 && keep(v)).slice(0, max));
}

/**
 * A resource's object as the sandbox shows it: its name, region and tags as terraform applied them; `metadata.spec` the
 * plain top-level fields of the applied spec, and its size field beside it as observed (the one drift compares).
 */
function managedItem(r: SandboxResource, o: SandboxObject, resized: boolean): ObservedItem {
  const size = sizeOf(o);
  const metadata: Record<string, unknown> = { spec: bounded(o.input.spec, isScalar, 32) };
  if (size) metadata[size.key] = resized ? resizedTo(size.value) : size.value;
  if (size && resized) metadata.outOfBand = `resized from ${String(size.value)} to ${resizedTo(size.value)} outside Skyloft (the sandbox's example of drift)`;
  if (typeof o.input.network_id === 'string') metadata.networkId = o.input.network_id;
  return {
    externalId: o.id,
    name: typeof o.input.name === 'string' ? o.input.name : null,
    type: r.type,
    status: STATUS[r.type],
    metadata,
    tags: bounded(o.input.tags, (v) => typeof v === 'string' && v.length <= 256, 50) as Record<string, string>,
    region: typeof o.input.region === 'string' ? o.input.region : r.region,
  };
}

function decoyItem(credentialId: string, accountId: string, d: Decoy): ObservedItem {
  const skyloft: Record<string, string> = d.orphan ? { 'skyloft-resource-id': orphanTag(credentialId, d), 'skyloft-account-id': accountId.toLowerCase() } : {};
  return {
    externalId: decoyId(credentialId, d),
    name: d.name,
    type: d.type,
    status: d.status,
    metadata: d.size ? { size: d.size } : {},
    tags: { ...d.tags, ...skyloft },
    region: SANDBOX_REGION,
  };
}
