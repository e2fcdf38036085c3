import { Aspects, Fn, TerraformBackend, TerraformStack, type TerraformRemoteState } from 'cdktf';
import type { Construct } from 'constructs';
import { literalJson, type Json } from './literal.ts';
import { SkyloftTagsAspect } from './tags.ts';

/** A JSON value, as a sandbox spec or any free-form field. */
export type { Json };

/** What every stack receives. `spec` is typed per stack. */
export interface StackConfig<Spec> {
  resourceId: string;
  accountId: string;
  name: string;
  region: string;
  spec: Spec;
}

/** The outputs of a managed network resource feeding a vm (issue 3, "Composition"). */
export interface NetworkInput<Outputs> {
  outputs: Outputs;
}

/**
 * `terraform { backend "http" {} }`: a partial configuration. Skyloft hands terraform the address, lock address and
 * password through TF_HTTP_* variables at run time, so no secret is ever written to cdk.tf.json or .terraform/
 * (ENVIRONMENT.md, "Terraform"). A backend construct, not `stack.addOverride('terraform.backend', ...)`: a stack
 * without a TerraformBackend gets cdktf's LocalBackend, and an override would only be merged beside it.
 */
class PartialHttpBackend extends TerraformBackend {
  constructor(scope: Construct) {
    super(scope, 'backend', 'http');
  }

  override getRemoteStateDataSource(): TerraformRemoteState {
    throw new Error('Skyloft stacks do not read each other through remote state: outputs are passed as config');
  }
}

/**
 * Base of every Skyloft stack: the empty http backend, the mandatory tags aspect, and `this.config`, the config with
 * every string made literal for Terraform. Stacks build resources from `this.config`, never from the raw input: a
 * name or spec holding `${file("/etc/passwd")}` would otherwise be evaluated by terraform on our server.
 */
export class SkyloftStack<Config extends StackConfig<unknown>> extends TerraformStack {
  protected readonly config: Config;

  constructor(scope: Construct, id: string, input: Config) {
    super(scope, id);
    this.config = literalJson(input as unknown as Json) as unknown as Config;
    new PartialHttpBackend(this);
    Aspects.of(this).add(new SkyloftTagsAspect(input.resourceId, input.accountId));
  }
}

/**
 * A cloud resource name from a Skyloft name: lowercase letters, digits and hyphens, starting with a letter, at most
 * `max` characters (the common subset of S3, GCP and Azure naming rules).
 */
export function cloudName(parts: string[], max = 63): string {
  const joined = parts.join('-').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-');
  const trimmed = joined.replace(/^[^a-z]+/, '').slice(0, max).replace(/-+$/, '');
  return trimmed || 'skyloft';
}

/**
 * The ids of some resources as one list expression. An output whose value is a plain JS array makes cdktf 0.21 call
 * the deprecated `util.isArray` (DEP0044 warning on Node 22+; TerraformOutput.isITerraformAddressable): a `tolist()`
 * token does not go that way.
 */
export function idList(resources: Array<{ id: string }>): string[] {
  return Fn.tolist(resources.map((r) => r.id));
}
