import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket/index.js';
import { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block/index.js';
import { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration/index.js';
import { TerraformOutput } from 'cdktf';
import type { Construct } from 'constructs';
import { cloudName, SkyloftStack } from '../common.ts';
import { awsProvider, type AwsStackConfig } from './provider.ts';

export interface AwsStorageSpec {
  /** The bucket name (globally unique); default: from the resource's name and id. */
  bucketName?: string;
  /** A KMS key for SSE-KMS; default: SSE-S3 (AES256). */
  kmsKeyId?: string;
  /** Let `destroy` delete a bucket that still holds objects. */
  forceDestroy?: boolean;
}

export type AwsStorageConfig = AwsStackConfig<AwsStorageSpec>;

/** An S3 bucket, encrypted at rest, with every kind of public access blocked. */
export class AwsStorageStack extends SkyloftStack<AwsStorageConfig> {
  constructor(scope: Construct, id: string, input: AwsStorageConfig) {
    super(scope, id, input);
    const config = this.config;
    awsProvider(this, config);
    const spec = config.spec;

    const bucket = new S3Bucket(this, 'bucket', {
      bucket: spec.bucketName ?? cloudName(['skyloft', config.name, config.resourceId]),
      forceDestroy: spec.forceDestroy ?? false,
    });
    new S3BucketServerSideEncryptionConfigurationA(this, 'encryption', {
      bucket: bucket.id,
      rule: [
        {
          applyServerSideEncryptionByDefault: spec.kmsKeyId
            ? { sseAlgorithm: 'aws:kms', kmsMasterKeyId: spec.kmsKeyId }
            : { sseAlgorithm: 'AES256' },
          bucketKeyEnabled: spec.kmsKeyId !== undefined,
        },
      ],
    });
    new S3BucketPublicAccessBlock(this, 'public-access-block', {
      bucket: bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });

    new TerraformOutput(this, 'id', { value: bucket.id });
    new TerraformOutput(this, 'bucket_name', { value: bucket.bucket });
    new TerraformOutput(this, 'arn', { value: bucket.arn });
  }
}
