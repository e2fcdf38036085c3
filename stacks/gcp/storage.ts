import { TerraformOutput } from 'cdktf';
import type { Construct } from 'constructs';
import { cloudName, SkyloftStack } from '../common.ts';
import { googleProvider, StorageBucket, type GcpStackConfig } from './resources.ts';

export interface GcpStorageSpec {
  /** Globally unique; default: from the resource's name and id. */
  bucketName?: string;
  /** A region, dual-region or multi-region; default: the stack's region. */
  location?: string;
  storageClass?: 'STANDARD' | 'NEARLINE' | 'COLDLINE' | 'ARCHIVE';
  versioning?: boolean;
  forceDestroy?: boolean;
}

export type GcpStorageConfig = GcpStackConfig<GcpStorageSpec>;

/** A Cloud Storage bucket with uniform access and public access prevention. */
export class GcpStorageStack extends SkyloftStack<GcpStorageConfig> {
  constructor(scope: Construct, id: string, input: GcpStorageConfig) {
    super(scope, id, input);
    const { name, region, resourceId, spec } = this.config;
    googleProvider(this, this.config);

    const bucket = new StorageBucket(this, 'bucket', {
      name: spec.bucketName ?? cloudName(['skyloft', name, resourceId]),
      location: (spec.location ?? region).toUpperCase(),
      storageClass: spec.storageClass,
      versioning: spec.versioning,
      forceDestroy: spec.forceDestroy,
    });

    new TerraformOutput(this, 'id', { value: bucket.id });
    new TerraformOutput(this, 'name', { value: bucket.attr('name') });
    new TerraformOutput(this, 'url', { value: bucket.attr('url') });
  }
}
