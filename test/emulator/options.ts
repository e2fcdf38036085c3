import type { SpendOptions } from './spend.ts';

/**
 * What an emulator run looks like: regions, fleet sizes and the credentials it accepts. Every field has a default,
 * so `startEmulator()` alone gives a small three-cloud fleet.
 */

export type Cloud = 'aws' | 'azure' | 'gcp';

/** The resource kinds of each cloud, named as the cloud names its list calls. */
export const KINDS = {
  aws: ['instances', 'volumes', 'vpcs', 'subnets', 'securityGroups', 'buckets'],
  azure: ['virtualMachines', 'disks', 'virtualNetworks'],
  gcp: ['instances', 'disks', 'networks'],
} as const;

export type AwsKind = (typeof KINDS.aws)[number];
export type AzureKind = (typeof KINDS.azure)[number];
export type GcpKind = (typeof KINDS.gcp)[number];

/** A count per region: one number for every region, or a number per region name (missing regions get 0). */
export type Count = number | Record<string, number>;

export interface AwsKey {
  accessKeyId: string;
  secretAccessKey: string;
  accountId: string;
  /** IAM user name shown by GetCallerIdentity. */
  userName?: string;
}

export interface EmulatorOptions {
  host?: string;
  /** AWS listens on `port`, Azure on `port + 1`, GCP on `port + 2`; 0 (the default) picks three free ports. */
  port?: number;
  seed?: number;
  /** Skyloft account ids written into the `skyloft-account-id` tag of the managed-looking share of the fleet. */
  skyloftAccountIds?: string[];
  /** Share (0..1) of VMs, disks and buckets carrying Skyloft's tags. Default 0.15. */
  managedShare?: number;
  aws?: {
    regions?: string[];
    counts?: Partial<Record<AwsKind, Count>>;
    keys?: AwsKey[];
    /** Roles AssumeRole accepts with their required ExternalId; when empty every well-formed role ARN is accepted. */
    roles?: Array<{ arn: string; externalId?: string }>;
  };
  azure?: {
    tenantId?: string;
    subscriptionId?: string;
    clientId?: string;
    clientSecret?: string;
    locations?: string[];
    counts?: Partial<Record<AzureKind, Count>>;
    /** Items per ARM page when the request gives no `$top`. Default 100. */
    pageSize?: number;
    /** Rows per Cost Management query page (the Query API takes no page size). Default 5000. */
    costPageSize?: number;
  };
  /** Billed spend of each cloud (spend.ts). */
  spend?: SpendOptions;
  gcp?: {
    projectId?: string;
    zones?: string[];
    counts?: Partial<Record<GcpKind, Count>>;
    /** The Cloud Billing export BigQuery answers for (gcp/cost.ts): dataset in `projectId`, and table. */
    billingDataset?: string;
    billingTable?: string;
  };
}

export const DEFAULT_AWS_KEY: AwsKey = {
  accessKeyId: 'AKIAEMULATOR00000001',
  secretAccessKey: 'emulator/secret/key/0000000000000000000001',
  accountId: '123456789012',
  userName: 'skyloft',
};

export const DEFAULT_AZURE = {
  tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  subscriptionId: '3f1b6a2e-9c1d-4d7e-8a0b-5c6d7e8f9a01',
  clientId: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
  clientSecret: 'emulator-client-secret',
};

export const DEFAULT_GCP_PROJECT = 'skyloft-emulator';

/** The detailed usage cost export (resource-level) of billing account 012345-6789AB-CDEF01. */
export const DEFAULT_GCP_BILLING = { dataset: 'billing_export', table: 'gcp_billing_export_resource_v1_012345_6789AB_CDEF01' };

const DEFAULT_COUNTS = {
  aws: { instances: 20, volumes: 25, vpcs: 2, subnets: 4, securityGroups: 3, buckets: 2 },
  azure: { virtualMachines: 15, disks: 20, virtualNetworks: 2 },
  gcp: { instances: 15, disks: 20, networks: 3 },
};

/** The resolved shape every other module reads. */
export interface Resolved {
  host: string;
  port: number;
  seed: number;
  skyloftAccountIds: string[];
  managedShare: number;
  aws: { regions: string[]; counts: Record<AwsKind, Count>; keys: AwsKey[]; roles: Array<{ arn: string; externalId?: string }> };
  azure: typeof DEFAULT_AZURE & { locations: string[]; counts: Record<AzureKind, Count>; pageSize: number; costPageSize: number };
  gcp: { projectId: string; zones: string[]; counts: Record<GcpKind, Count>; billingDataset: string; billingTable: string };
  spend: SpendOptions;
}

export function resolveOptions(o: EmulatorOptions = {}): Resolved {
  return {
    host: o.host ?? '127.0.0.1',
    port: o.port ?? 0,
    seed: o.seed ?? 1,
    skyloftAccountIds: o.skyloftAccountIds ?? ['0b5e6c1a-3f2d-4c8e-9a7b-1d2e3f4a5b6c', '7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a'],
    managedShare: o.managedShare ?? 0.15,
    aws: {
      regions: o.aws?.regions ?? ['us-east-1', 'us-west-2', 'eu-west-1', 'ap-southeast-2'],
      counts: { ...DEFAULT_COUNTS.aws, ...o.aws?.counts },
      keys: o.aws?.keys ?? [DEFAULT_AWS_KEY],
      roles: o.aws?.roles ?? [],
    },
    azure: {
      tenantId: o.azure?.tenantId ?? DEFAULT_AZURE.tenantId,
      subscriptionId: o.azure?.subscriptionId ?? DEFAULT_AZURE.subscriptionId,
      clientId: o.azure?.clientId ?? DEFAULT_AZURE.clientId,
      clientSecret: o.azure?.clientSecret ?? DEFAULT_AZURE.clientSecret,
      locations: o.azure?.locations ?? ['eastus', 'westeurope', 'southeastasia'],
      counts: { ...DEFAULT_COUNTS.azure, ...o.azure?.counts },
      pageSize: o.azure?.pageSize ?? 100,
      costPageSize: o.azure?.costPageSize ?? 5000,
    },
    spend: o.spend ?? {},
    gcp: {
      projectId: o.gcp?.projectId ?? DEFAULT_GCP_PROJECT,
      zones: o.gcp?.zones ?? ['us-central1-a', 'us-central1-b', 'europe-west1-b', 'asia-east1-a'],
      counts: { ...DEFAULT_COUNTS.gcp, ...o.gcp?.counts },
      billingDataset: o.gcp?.billingDataset ?? DEFAULT_GCP_BILLING.dataset,
      billingTable: o.gcp?.billingTable ?? DEFAULT_GCP_BILLING.table,
    },
  };
}

export function countFor(count: Count, region: string): number {
  return typeof count === 'number' ? count : (count[region] ?? 0);
}
