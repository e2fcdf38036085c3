import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TerraformStack } from 'cdktf';
import type { Construct } from 'constructs';
import type { AwsNetworkConfig } from './aws/network.ts';
import type { AwsStorageConfig } from './aws/storage.ts';
import type { AwsVmConfig } from './aws/vm.ts';
import type { AzureNetworkConfig } from './azure/network.ts';
import type { AzureStorageConfig } from './azure/storage.ts';
import type { AzureVmConfig } from './azure/vm.ts';
import type { GcpNetworkConfig } from './gcp/network.ts';
import type { GcpStorageConfig } from './gcp/storage.ts';
import type { GcpVmConfig } from './gcp/vm.ts';
import type { SandboxNetworkConfig } from './sandbox/network.ts';
import type { SandboxStorageConfig } from './sandbox/storage.ts';
import type { SandboxVmConfig } from './sandbox/vm.ts';

export type { StackConfig, NetworkInput, Json } from './common.ts';

/** Every stack Skyloft knows: the provider and type pick the stack, the rest is that stack's config. */
export type StackInput =
  | ({ provider: 'sandbox'; type: 'vm' } & SandboxVmConfig)
  | ({ provider: 'sandbox'; type: 'storage' } & SandboxStorageConfig)
  | ({ provider: 'sandbox'; type: 'network' } & SandboxNetworkConfig)
  | ({ provider: 'aws'; type: 'vm' } & AwsVmConfig)
  | ({ provider: 'aws'; type: 'storage' } & AwsStorageConfig)
  | ({ provider: 'aws'; type: 'network' } & AwsNetworkConfig)
  | ({ provider: 'azure'; type: 'vm' } & AzureVmConfig)
  | ({ provider: 'azure'; type: 'storage' } & AzureStorageConfig)
  | ({ provider: 'azure'; type: 'network' } & AzureNetworkConfig)
  | ({ provider: 'gcp'; type: 'vm' } & GcpVmConfig)
  | ({ provider: 'gcp'; type: 'storage' } & GcpStorageConfig)
  | ({ provider: 'gcp'; type: 'network' } & GcpNetworkConfig);

export type StackProvider = StackInput['provider'];
export type StackType = StackInput['type'];

type StackClass = new (scope: Construct, id: string, config: never) => TerraformStack;

/**
 * Loaded lazily, one module per stack: a sandbox synthesis never loads @cdktf/provider-aws (87 MB even through deep
 * imports; ENVIRONMENT.md), and an Azure one loads nothing of AWS.
 */
const loaders: Record<StackProvider, Record<StackType, () => Promise<StackClass>>> = {
  sandbox: {
    vm: async () => (await import('./sandbox/vm.ts')).SandboxVmStack,
    storage: async () => (await import('./sandbox/storage.ts')).SandboxStorageStack,
    network: async () => (await import('./sandbox/network.ts')).SandboxNetworkStack,
  },
  aws: {
    vm: async () => (await import('./aws/vm.ts')).AwsVmStack,
    storage: async () => (await import('./aws/storage.ts')).AwsStorageStack,
    network: async () => (await import('./aws/network.ts')).AwsNetworkStack,
  },
  azure: {
    vm: async () => (await import('./azure/vm.ts')).AzureVmStack,
    storage: async () => (await import('./azure/storage.ts')).AzureStorageStack,
    network: async () => (await import('./azure/network.ts')).AzureNetworkStack,
  },
  gcp: {
    vm: async () => (await import('./gcp/vm.ts')).GcpVmStack,
    storage: async () => (await import('./gcp/storage.ts')).GcpStorageStack,
    network: async () => (await import('./gcp/network.ts')).GcpNetworkStack,
  },
};

/** The construct id of the stack, hence its folder under `<outdir>/stacks/`. */
export const STACK_ID = 'resource';

/**
 * Synthesizes one resource's stack in process into `outdir` and returns the folder holding cdk.tf.json (where
 * terraform runs). Async because the stack's module is imported on demand.
 */
export async function synthesizeStack(input: StackInput, outdir: string): Promise<{ stackDir: string }> {
  const load = loaders[input.provider]?.[input.type];
  if (!load) throw new TypeError(`no stack for provider ${String(input.provider)} and type ${String(input.type)}`);
  // cdktf too is loaded on the first synthesis: a worker that only syncs inventory never holds it (about 30 MB).
  const [Stack, { App }] = await Promise.all([load(), import('cdktf')]);
  const { provider: _provider, type: _type, ...config } = input;

  mkdirSync(outdir, { recursive: true }); // App creates outdir itself, but not its parents.
  // No stack traces: they are construct-path metadata of no use to terraform, and slow synthesis down.
  // skipValidation: cdktf's validations include a synchronous `terraform version` (execSync) on every synthesis:
  // ~95% of synthesis time, blocking the worker's event loop (and its lease renewals). The stacks are typed and
  // tested by synthesis instead, and the worker runs the terraform it is configured with (TERRAFORM_BIN).
  const app = new App({ outdir, stackTraces: false, hclOutput: false, skipValidation: true });
  new Stack(app, STACK_ID, config as never);
  app.synth();

  const stackDir = join(outdir, app.manifest.forStack(app.node.findChild(STACK_ID) as TerraformStack).workingDirectory);
  // App honours SYNTH_HCL_OUTPUT and CDKTF_TARGET_STACK_ID from the environment over its config; fail loudly if the
  // environment made it write something other than this stack's cdk.tf.json.
  if (!existsSync(join(stackDir, 'cdk.tf.json'))) {
    throw new Error(`cdktf wrote no ${join(stackDir, 'cdk.tf.json')} (SYNTH_HCL_OUTPUT or CDKTF_TARGET_STACK_ID set?)`);
  }
  return { stackDir };
}
