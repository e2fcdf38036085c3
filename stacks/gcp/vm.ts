import { TerraformOutput } from 'cdktf';
import type { Construct } from 'constructs';
import { cloudName, SkyloftStack, type NetworkInput } from '../common.ts';
import type { GcpNetworkOutputs } from './network.ts';
import { ComputeInstance, googleProvider, type GcpStackConfig } from './resources.ts';

export interface GcpVmSpec {
  machineType: string;
  /** e.g. `debian-cloud/debian-12`. */
  image: string;
  /** Default: `<region>-a`. */
  zone?: string;
  diskSizeGb?: number;
}

export interface GcpVmConfig extends GcpStackConfig<GcpVmSpec> {
  /** A managed GCP network; without one the vm joins the project's `default` network. */
  network?: NetworkInput<Pick<GcpNetworkOutputs, 'subnetwork_self_link'>>;
}

/** A Compute Engine instance. */
export class GcpVmStack extends SkyloftStack<GcpVmConfig> {
  constructor(scope: Construct, id: string, input: GcpVmConfig) {
    super(scope, id, input);
    const { name, region, spec, network } = this.config;
    googleProvider(this, this.config);

    const instance = new ComputeInstance(this, 'instance', {
      name: cloudName([name]),
      zone: spec.zone ?? `${region}-a`,
      machineType: spec.machineType,
      image: spec.image,
      diskSizeGb: spec.diskSizeGb,
      subnetwork: network?.outputs.subnetwork_self_link,
    });

    new TerraformOutput(this, 'id', { value: instance.id });
    new TerraformOutput(this, 'instance_id', { value: instance.attr('instance_id') });
    new TerraformOutput(this, 'self_link', { value: instance.attr('self_link') });
    new TerraformOutput(this, 'private_ip', { value: instance.attr('network_interface[0].network_ip') });
  }
}
