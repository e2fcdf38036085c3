import { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js';
import type { Construct } from 'constructs';
import type { StackConfig } from '../common.ts';

/** AWS stacks take the common config plus an optional endpoint override (an S3/EC2-compatible service). */
export interface AwsStackConfig<Spec> extends StackConfig<Spec> {
  /** One base URL for every service these stacks use. Absent: the provider's defaults and AWS_ENDPOINT_URL_*. */
  endpoint?: string;
}

/**
 * The AWS provider block: the region and nothing secret. Credentials reach terraform through its environment at run
 * time (AWS_ACCESS_KEY_ID, ...), never cdk.tf.json. Endpoints are left to the environment (AWS_ENDPOINT_URL and the
 * per-service variables) unless the config names one.
 */
export function awsProvider(scope: Construct, config: AwsStackConfig<unknown>): AwsProvider {
  const endpoint = config.endpoint;
  if (endpoint === undefined) return new AwsProvider(scope, 'aws', { region: config.region });
  return new AwsProvider(scope, 'aws', {
    region: config.region,
    endpoints: [{ ec2: endpoint, s3: endpoint, sts: endpoint, iam: endpoint }],
    // A compatible service has no real STS account or instance metadata to check against.
    skipCredentialsValidation: true,
    skipRequestingAccountId: true,
    skipMetadataApiCheck: 'true',
    s3UsePathStyle: true,
  });
}
