import { DataResource, TerraformResource, type IAspect } from 'cdktf';
import type { IConstruct } from 'constructs';

export const RESOURCE_ID_TAG = 'skyloft-resource-id';
export const ACCOUNT_ID_TAG = 'skyloft-account-id';

export type Tags = Record<string, string>;

/** Skyloft's tags (AWS, Azure) or labels (GCP): lowercase values, as inventory matches them (API.md, "Tags"). */
export function skyloftTags(resourceId: string, accountId: string): Tags {
  return { [RESOURCE_ID_TAG]: resourceId.toLowerCase(), [ACCOUNT_ID_TAG]: accountId.toLowerCase() };
}

/** A resource of ours (stacks/generic.ts) that knows its tag attribute (`tags` on Azure, `labels` on GCP). */
export interface Taggable {
  applyTags(tags: Tags): void;
}

function isTaggable(node: IConstruct): node is IConstruct & Taggable {
  return typeof (node as Partial<Taggable>).applyTags === 'function';
}

/** The shape of a taggable resource in the prebuilt bindings (@cdktf/provider-aws): a `tags` setter and its input. */
interface BindingWithTags {
  tags: Tags;
  readonly tagsInput: Tags | undefined;
}

function hasBindingTags(node: TerraformResource): node is TerraformResource & BindingWithTags {
  return 'tagsInput' in node;
}

/**
 * Puts `skyloft-resource-id` and `skyloft-account-id` on every taggable resource of a stack, at synthesis.
 *
 * Why an aspect and not tags written by each stack: the aspect visits the whole construct tree, so a resource added
 * later, by a nested construct or by a stack written by someone who never read API.md is tagged all the same, and the
 * rule lives in one place for four providers. Per-resource code is forgotten once and the resource is invisible to
 * inventory (an orphan that nobody can link back). The AWS provider's `default_tags` would cover AWS only, and not
 * the sandbox's `input.tags`, Azure's `tags` or GCP's `labels`. Our keys win over a user's tags of the same name.
 * https://developer.hashicorp.com/terraform/cdktf/concepts/aspects
 */
export class SkyloftTagsAspect implements IAspect {
  private readonly tags: Tags;

  constructor(resourceId: string, accountId: string) {
    this.tags = skyloftTags(resourceId, accountId);
  }

  visit(node: IConstruct): void {
    if (node instanceof DataResource) {
      // terraform_data has no tags: the sandbox keeps them in its input, where the state shows them.
      const input: Record<string, unknown> = node.inputInput ?? {};
      const current = (input['tags'] ?? {}) as Tags;
      node.input = { ...input, tags: { ...current, ...this.tags } };
    } else if (isTaggable(node)) {
      node.applyTags(this.tags);
    } else if (TerraformResource.isTerraformResource(node) && hasBindingTags(node)) {
      node.tags = { ...node.tagsInput, ...this.tags };
    }
  }
}
