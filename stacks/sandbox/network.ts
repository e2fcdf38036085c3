import { TerraformOutput } from 'cdktf';
import type { Construct } from 'constructs';
import { SkyloftStack, type StackConfig } from '../common.ts';
import { checkSpecSize, sandboxResource, type SandboxSpec } from './common.ts';

export type SandboxNetworkConfig = StackConfig<SandboxSpec>;

/** What a sandbox network publishes; a sandbox vm takes `network_id`. */
export interface SandboxNetworkOutputs {
  id: string;
  network_id: string;
}

/** A sandbox network: one terraform_data. */
export class SandboxNetworkStack extends SkyloftStack<SandboxNetworkConfig> {
  constructor(scope: Construct, id: string, input: SandboxNetworkConfig) {
    checkSpecSize(input.spec);
    super(scope, id, input);
    const network = sandboxResource(this, 'network', this.config);
    new TerraformOutput(this, 'id', { value: network.id });
    new TerraformOutput(this, 'network_id', { value: network.id });
  }
}
