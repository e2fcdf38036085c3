import { TerraformOutput } from 'cdktf';
import type { Construct } from 'constructs';
import { SkyloftStack, type NetworkInput, type StackConfig } from '../common.ts';
import { checkSpecSize, sandboxResource, type SandboxSpec } from './common.ts';
import type { SandboxNetworkOutputs } from './network.ts';

export interface SandboxVmConfig extends StackConfig<SandboxSpec> {
  /** A managed sandbox network (its stored outputs) the vm joins. */
  network?: NetworkInput<Pick<SandboxNetworkOutputs, 'network_id'>>;
}

/** A sandbox vm: one terraform_data, joined to a sandbox network when one is given. */
export class SandboxVmStack extends SkyloftStack<SandboxVmConfig> {
  constructor(scope: Construct, id: string, input: SandboxVmConfig) {
    checkSpecSize(input.spec);
    super(scope, id, input);
    const networkId = this.config.network?.outputs.network_id;
    const vm = sandboxResource(this, 'vm', this.config, networkId === undefined ? {} : { network_id: networkId });
    new TerraformOutput(this, 'id', { value: vm.id });
    new TerraformOutput(this, 'name', { value: vm.output.lookup('name') });
    if (networkId !== undefined) new TerraformOutput(this, 'network_id', { value: vm.output.lookup('network_id') });
  }
}
