import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TerraformStack } from 'cdktf';
import { awsStacks } from './aws/index.ts';
import { azureStacks } from './azure/index.ts';
import { gcpStacks } from './gcp/index.ts';
import { BUILTIN_PROVIDER, providerAddress, type ProviderStacks } from './providers.ts';
import { sandboxStacks } from './sandbox/index.ts';

export type { StackConfig, NetworkInput, Json } from './common.ts';

/**
 * One resource's stack: the provider and type pick it (stacks/<provider>/index.ts), the rest is that stack's config
 * (the `*Config` type beside each stack).
 */
export type StackInput = { provider: string; type: string } & Record<string, unknown>;

/** Every provider's stacks, by the provider ids of src/clouds/registry.ts: one line per provider. */
const stacks = new Map<string, ProviderStacks>();

/** Adds a provider's stacks. */
export function registerStacks(provider: string, providerStacks: ProviderStacks): void {
  if (stacks.has(provider)) throw new TypeError(`stacks of '${provider}' are already registered`);
  stacks.set(provider, providerStacks);
}

registerStacks('aws', awsStacks);
registerStacks('azure', azureStacks);
registerStacks('gcp', gcpStacks);
registerStacks('sandbox', sandboxStacks);

/** The fully qualified provider addresses a resource of this cloud may use: its stacks' own plus the built-in one. */
export function allowedProviderAddresses(cloud: string): ReadonlySet<string> {
  return new Set([BUILTIN_PROVIDER, ...(stacks.get(cloud)?.providers ?? []).map(providerAddress)]);
}

/** The construct id of the stack, hence its folder under `<outdir>/stacks/`. */
export const STACK_ID = 'resource';

/**
 * Synthesizes one resource's stack in process into `outdir` and returns the folder holding cdk.tf.json (where
 * terraform runs). Async because the stack's module is imported on demand.
 */
export async function synthesizeStack(input: StackInput, outdir: string): Promise<{ stackDir: string }> {
  const kinds = stacks.get(input.provider)?.kinds;
  const load = kinds && Object.hasOwn(kinds, input.type) ? kinds[input.type] : undefined;
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
