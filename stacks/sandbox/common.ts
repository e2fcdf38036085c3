import { DataResource } from 'cdktf';
import type { Construct } from 'constructs';
import type { Json, StackConfig } from '../common.ts';

/** The sandbox spec is free-form JSON (issue 3), bounded like the API bounds it. */
export type SandboxSpec = { [key: string]: Json };
export const SANDBOX_SPEC_MAX_BYTES = 64 * 1024;

export function checkSpecSize(spec: SandboxSpec): void {
  const size = Buffer.byteLength(JSON.stringify(spec), 'utf8');
  if (size > SANDBOX_SPEC_MAX_BYTES) {
    throw new RangeError(`sandbox spec is ${size} bytes, more than ${SANDBOX_SPEC_MAX_BYTES}`);
  }
}

/**
 * One `terraform_data` (Terraform's built-in resource: no provider to download, so init and apply run offline) whose
 * `input` carries the spec; the tags aspect adds `input.tags`. `extra` adds fields such as the vm's `network_id`.
 */
export function sandboxResource(
  scope: Construct,
  kind: 'vm' | 'storage' | 'network',
  config: StackConfig<SandboxSpec>,
  extra: Record<string, string> = {},
): DataResource {
  return new DataResource(scope, kind, {
    input: { kind, name: config.name, region: config.region, spec: config.spec, ...extra },
    provisioners: slowCreate(config.spec.provisionSeconds),
  });
}

/**
 * `spec.provisionSeconds` makes the create take that long, like a real cloud resource: how newcomers (and the
 * tests) see a running operation, cancel it, or kill its worker mid-apply. A whole number only: it becomes a command.
 */
function slowCreate(seconds: Json | undefined) {
  if (seconds === undefined) return undefined;
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0 || seconds > 600) {
    throw new RangeError('sandbox spec.provisionSeconds must be a whole number of seconds from 0 to 600');
  }
  return [{ type: 'local-exec' as const, command: `sleep ${seconds}` }];
}
