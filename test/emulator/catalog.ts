import type { Cloud } from './options.ts';
import type { Draw } from './random.ts';

/**
 * The cloud-native vocabulary of each resource kind: the states, types and sizes a seeded resource draws from, how
 * its id is spelled, and whether it may carry Skyloft's tags. Renderers add cosmetic detail; these are the fields an
 * inventory normalizes, so mutations (`change`) speak the same words.
 */
export interface Profile {
  /** AWS ids are `${prefix}-0<17 hex>`; Azure and GCP names are `${prefix}-<scope>-<index>`. */
  prefix: string;
  states: ReadonlyArray<readonly [string, number]>;
  types: readonly string[];
  sizesGb?: readonly [number, number];
  /** Whether the managed share of these carries `skyloft-resource-id` / `skyloft-account-id`. */
  managed: boolean;
  zones: (region: string, draw: Draw) => string;
}

const awsZone = (region: string, draw: Draw) => `${region}${draw.pick(['a', 'b', 'c'])}`;
const azureZone = (_region: string, draw: Draw) => draw.pick(['1', '2', '3']);
const sameZone = (region: string) => region;

const PROFILES: Record<Cloud, Record<string, Profile>> = {
  aws: {
    instances: {
      prefix: 'i',
      states: [['running', 80], ['stopped', 15], ['pending', 2], ['stopping', 2], ['shutting-down', 1]],
      types: ['t3.micro', 't3.medium', 'm5.large', 'm6i.xlarge', 'c6g.large', 'r5.2xlarge', 't4g.small'],
      managed: true,
      zones: awsZone,
    },
    volumes: {
      prefix: 'vol',
      states: [['in-use', 80], ['available', 20]],
      types: ['gp3', 'gp2', 'io2', 'st1'],
      sizesGb: [8, 2000],
      managed: true,
      zones: awsZone,
    },
    vpcs: { prefix: 'vpc', states: [['available', 1]], types: ['default'], managed: false, zones: sameZone },
    subnets: { prefix: 'subnet', states: [['available', 1]], types: ['private', 'public'], managed: false, zones: awsZone },
    securityGroups: { prefix: 'sg', states: [['available', 1]], types: ['vpc'], managed: false, zones: sameZone },
    buckets: { prefix: 'bkt', states: [['available', 1]], types: ['general-purpose'], managed: true, zones: sameZone },
  },
  azure: {
    virtualMachines: {
      prefix: 'vm',
      states: [['running', 80], ['deallocated', 15], ['stopped', 3], ['starting', 2]],
      types: ['Standard_B2s', 'Standard_D2s_v5', 'Standard_D4s_v5', 'Standard_E4s_v5', 'Standard_F2s_v2'],
      managed: true,
      zones: azureZone,
    },
    disks: {
      prefix: 'disk',
      states: [['Attached', 80], ['Unattached', 20]],
      types: ['Premium_LRS', 'StandardSSD_LRS', 'Standard_LRS'],
      sizesGb: [4, 1024],
      managed: true,
      zones: azureZone,
    },
    virtualNetworks: { prefix: 'vnet', states: [['Succeeded', 1]], types: ['vnet'], managed: false, zones: sameZone },
  },
  gcp: {
    instances: {
      prefix: 'vm',
      states: [['RUNNING', 80], ['TERMINATED', 15], ['SUSPENDED', 2], ['STAGING', 3]],
      types: ['e2-medium', 'e2-standard-2', 'n2-standard-4', 'n2d-standard-8', 'c3-standard-4'],
      managed: true,
      zones: sameZone,
    },
    disks: {
      prefix: 'disk',
      states: [['READY', 97], ['CREATING', 3]],
      types: ['pd-balanced', 'pd-ssd', 'pd-standard'],
      sizesGb: [10, 2000],
      managed: true,
      zones: sameZone,
    },
    networks: { prefix: 'net', states: [['READY', 1]], types: ['auto'], managed: false, zones: sameZone },
  },
};

export function profile(cloud: Cloud, kind: string): Profile {
  const p = PROFILES[cloud][kind];
  if (!p) throw new Error(`Unknown ${cloud} resource kind '${kind}': use one of ${Object.keys(PROFILES[cloud]).join(', ')}`);
  return p;
}

export const TEAMS = ['platform', 'data', 'payments', 'search', 'ml', 'web'] as const;
export const ENVS = [['prod', 5], ['staging', 3], ['dev', 2]] as const;

/** Fixed "now" of seeded resources, so a seed always yields the same dates. */
export const EPOCH = Date.UTC(2026, 10, 1);
