import type { Construct } from 'constructs';
import type { StackConfig } from '../common.ts';
import { GenericProvider, GenericResource, type GenericResourceOptions } from '../generic.ts';
import { PINNED_PROVIDERS } from '../providers.ts';

/**
 * Small typed constructs for the google resources Skyloft creates, over the generic provider/resource (no
 * @cdktf/provider-google: see stacks/generic.ts). GCP calls tags `labels`; networks and subnetworks have none.
 * https://registry.terraform.io/providers/hashicorp/google/latest/docs
 */
const GOOGLE = PINNED_PROVIDERS.google;
const LABELLED: GenericResourceOptions = { providerName: GOOGLE.name, tagAttribute: 'labels' };
const UNLABELLED: GenericResourceOptions = { providerName: GOOGLE.name };

/** GCP stacks take the common config plus the project (not a secret); absent, GOOGLE_PROJECT at run time. */
export interface GcpStackConfig<Spec> extends StackConfig<Spec> {
  project?: string;
}

/** The google provider: region and project only. Credentials come from GOOGLE_CREDENTIALS (or ADC) at run time. */
export function googleProvider(scope: Construct, config: GcpStackConfig<unknown>): GenericProvider {
  return new GenericProvider(scope, GOOGLE, {
    region: config.region,
    ...(config.project === undefined ? {} : { project: config.project }),
  });
}

export class ComputeNetwork extends GenericResource {
  constructor(scope: Construct, id: string, c: { name: string }) {
    super(scope, id, 'google_compute_network', { name: c.name, auto_create_subnetworks: false }, UNLABELLED);
  }
  get name(): string {
    return this.attr('name');
  }
  get selfLink(): string {
    return this.attr('self_link');
  }
}

export class ComputeSubnetwork extends GenericResource {
  constructor(scope: Construct, id: string, c: { name: string; region: string; network: string; ipCidrRange: string }) {
    super(scope, id, 'google_compute_subnetwork', {
      name: c.name,
      region: c.region,
      network: c.network,
      ip_cidr_range: c.ipCidrRange,
      private_ip_google_access: true,
    }, UNLABELLED);
  }
  get selfLink(): string {
    return this.attr('self_link');
  }
}

/** A bucket with uniform access and public access prevention enforced (Google encrypts at rest by default). */
export class StorageBucket extends GenericResource {
  constructor(scope: Construct, id: string, c: { name: string; location: string; storageClass?: string; forceDestroy?: boolean; versioning?: boolean }) {
    super(scope, id, 'google_storage_bucket', {
      name: c.name,
      location: c.location,
      storage_class: c.storageClass,
      force_destroy: c.forceDestroy ?? false,
      uniform_bucket_level_access: true,
      public_access_prevention: 'enforced',
      versioning: c.versioning === undefined ? undefined : [{ enabled: c.versioning }],
    }, LABELLED);
  }
}

export interface ComputeInstanceConfig {
  name: string;
  zone: string;
  machineType: string;
  image: string;
  diskSizeGb?: number;
  /** A subnetwork self link or id; without it, the project's `default` network. */
  subnetwork?: string;
}

export class ComputeInstance extends GenericResource {
  constructor(scope: Construct, id: string, c: ComputeInstanceConfig) {
    super(scope, id, 'google_compute_instance', {
      name: c.name,
      zone: c.zone,
      machine_type: c.machineType,
      boot_disk: [{ initialize_params: [{ image: c.image, size: c.diskSizeGb }] }],
      network_interface: [c.subnetwork === undefined ? { network: 'default' } : { subnetwork: c.subnetwork }],
    }, LABELLED);
  }
}
