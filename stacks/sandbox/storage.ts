import { TerraformOutput } from 'cdktf';
import type { Construct } from 'constructs';
import { SkyloftStack, type StackConfig } from '../common.ts';
import { checkSpecSize, sandboxResource, type SandboxSpec } from './common.ts';

export type SandboxStorageConfig = StackConfig<SandboxSpec>;

/** A sandbox storage: one terraform_data. */
export class SandboxStorageStack extends SkyloftStack<SandboxStorageConfig> {
  constructor(scope: Construct, id: string, input: SandboxStorageConfig) {
    checkSpecSize(input.spec);
    super(scope, id, input);
    const storage = sandboxResource(this, 'storage', this.config);
    new TerraformOutput(this, 'id', { value: storage.id });
    new TerraformOutput(this, 'name', { value: storage.output.lookup('name') });
  }
}
