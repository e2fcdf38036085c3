import { TerraformProvider, TerraformResource } from 'cdktf';
import type { Construct } from 'constructs';
import type { Taggable, Tags } from './tags.ts';

/**
 * Generic provider and resource over cdktf's base classes, for clouds whose prebuilt bindings we do not install
 * (@cdktf/provider-azurerm and -google are frozen upstream and hundreds of MB: issue 3). The typed constructs in
 * stacks/azure/resources.ts and stacks/gcp/resources.ts sit on these and write Terraform's own snake_case names.
 */

export type Attributes = Record<string, unknown>;

export interface ProviderSpec {
  /** Local name and resource prefix, e.g. `azurerm`. */
  name: string;
  /** Registry source, e.g. `hashicorp/azurerm`. */
  source: string;
  /** Version constraint, e.g. `~> 4.0`. */
  version: string;
}

export class GenericProvider extends TerraformProvider {
  private readonly attributes: Attributes;

  constructor(scope: Construct, spec: ProviderSpec, attributes: Attributes) {
    super(scope, spec.name, {
      terraformResourceType: spec.name,
      terraformProviderSource: spec.source,
      terraformGeneratorMetadata: { providerName: spec.name, providerVersionConstraint: spec.version },
    });
    this.attributes = attributes;
  }

  protected override synthesizeAttributes(): Attributes {
    return this.attributes;
  }
}

export interface GenericResourceOptions {
  /** The provider's local name (for cdktf's provider presence validation). */
  providerName: string;
  /** The attribute that holds tags (`tags` on Azure, `labels` on GCP); none if the resource has no tags. */
  tagAttribute?: 'tags' | 'labels';
}

export class GenericResource extends TerraformResource implements Taggable {
  private readonly options: GenericResourceOptions;
  private readonly attributes: Attributes;

  constructor(scope: Construct, id: string, type: string, attributes: Attributes, options: GenericResourceOptions) {
    super(scope, id, { terraformResourceType: type, terraformGeneratorMetadata: { providerName: options.providerName } });
    this.options = options;
    // Undefined optional attributes are left out rather than written as null.
    this.attributes = Object.fromEntries(Object.entries(attributes).filter(([, v]) => v !== undefined));
  }

  /** The resource's `id` attribute, as a reference (e.g. `${azurerm_subnet.subnet.id}`). */
  get id(): string {
    return this.getStringAttribute('id');
  }

  /** Any attribute as a reference, e.g. `attr('network_interface[0].network_ip')`. */
  attr(name: string): string {
    return this.getStringAttribute(name);
  }

  applyTags(tags: Tags): void {
    const key = this.options.tagAttribute;
    if (!key) return;
    this.attributes[key] = { ...(this.attributes[key] as Tags | undefined), ...tags };
  }

  protected override synthesizeAttributes(): Attributes {
    return this.attributes;
  }
}
