import { Fn, TerraformOutput } from 'cdktf';
import type { Construct } from 'constructs';
import { cloudName, SkyloftStack } from '../common.ts';
import { ComputeNetwork, ComputeSubnetwork, googleProvider, type GcpStackConfig } from './resources.ts';

export interface GcpNetworkSpec {
  /** At least one, all in the stack's region; the first is the one a vm joins. */
  subnets: Array<{ name: string; ipCidrRange: string }>;
}

export type GcpNetworkConfig = GcpStackConfig<GcpNetworkSpec>;

/** What a GCP network publishes; a GCP vm takes `subnetwork_self_link`. */
export interface GcpNetworkOutputs {
  network_id: string;
  network_name: string;
  subnetwork_self_link: string;
  subnetwork_self_links: string[];
}

/** A GCP VPC network (custom mode) and its subnetworks. */
export class GcpNetworkStack extends SkyloftStack<GcpNetworkConfig> {
  constructor(scope: Construct, id: string, input: GcpNetworkConfig) {
    super(scope, id, input);
    const { name, region, spec } = this.config;
    if (spec.subnets.length === 0) throw new RangeError('a GCP network needs at least one subnet');
    googleProvider(this, this.config);

    const network = new ComputeNetwork(this, 'network', { name: cloudName([name]) });
    const subnets = spec.subnets.map(
      (s, i) =>
        new ComputeSubnetwork(this, `subnetwork-${i}`, {
          name: cloudName([s.name]),
          region,
          network: network.id,
          ipCidrRange: s.ipCidrRange,
        }),
    );

    new TerraformOutput(this, 'id', { value: network.id });
    new TerraformOutput(this, 'network_id', { value: network.id });
    new TerraformOutput(this, 'network_name', { value: network.name });
    new TerraformOutput(this, 'subnetwork_self_link', { value: subnets[0]!.selfLink });
    new TerraformOutput(this, 'subnetwork_self_links', { value: Fn.tolist(subnets.map((s) => s.selfLink)) });
  }
}
