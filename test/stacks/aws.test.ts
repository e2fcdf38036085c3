import { Instance } from '@cdktf/provider-aws/lib/instance/index.js';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket/index.js';
import { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block/index.js';
import { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration/index.js';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group/index.js';
import { Subnet } from '@cdktf/provider-aws/lib/subnet/index.js';
import { Vpc } from '@cdktf/provider-aws/lib/vpc/index.js';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule/index.js';
import { describe, expect, it } from 'vitest';
import { AwsNetworkStack } from '../../stacks/aws/network.ts';
import { AwsStorageStack } from '../../stacks/aws/storage.ts';
import { AwsVmStack, type AwsVmSpec } from '../../stacks/aws/vm.ts';
import { common, expectEmptyHttpBackend, expectNoCredentials, expectTagged, only, skyloftTags, synth } from './helpers.ts';

const vmSpec: AwsVmSpec = { ami: 'ami-0abc', instanceType: 't3.micro', ingress: [{ port: 22 }], userData: 'echo ${HOME}' };

describe('aws stacks (@cdktf/provider-aws, deep imports)', () => {
  it('vm: an instance and its security group, fed by the network outputs', () => {
    const network = { outputs: { vpc_id: 'vpc-123', subnet_id: 'subnet-456' } };
    const { json, doc } = synth((app) => new AwsVmStack(app, 'vm', { ...common, spec: vmSpec, network }));

    expect(json).toHaveResourceWithProperties(SecurityGroup, { vpc_id: 'vpc-123', tags: skyloftTags });
    expect(json).toHaveResourceWithProperties(Instance, {
      ami: 'ami-0abc',
      instance_type: 't3.micro',
      subnet_id: 'subnet-456',
      vpc_security_group_ids: ['${aws_security_group.security-group.id}'],
      user_data: 'echo $${HOME}',
      metadata_options: { http_tokens: 'required' },
      tags: { Name: 'web 1', ...skyloftTags },
    });
    expect(json).toHaveResourceWithProperties(VpcSecurityGroupIngressRule, {
      security_group_id: '${aws_security_group.security-group.id}',
      from_port: 22,
      to_port: 22,
      ip_protocol: 'tcp',
    });
    expectTagged(doc, ['aws_instance', 'aws_security_group', 'aws_vpc_security_group_ingress_rule', 'aws_vpc_security_group_egress_rule'], 'tags');
    expectEmptyHttpBackend(doc);
    expectNoCredentials(doc);
    // Region only: credentials and endpoints come from terraform's environment.
    expect(doc.provider?.['aws']).toEqual([{ region: 'eu-west-1' }]);
    expect(Object.keys(doc.output).sort()).toEqual(['id', 'private_ip', 'public_ip', 'security_group_id']);
  });

  it('vm: without a network it uses the default VPC; an endpoint override reaches the provider', () => {
    const { json, doc } = synth((app) =>
      new AwsVmStack(app, 'vm', { ...common, spec: vmSpec, endpoint: 'http://127.0.0.1:4566' }),
    );
    expect(only(doc, 'aws_instance')).not.toHaveProperty('subnet_id');
    expect(only(doc, 'aws_security_group')).not.toHaveProperty('vpc_id');
    expect(json).toHaveProviderWithProperties(AwsProvider, {
      region: 'eu-west-1',
      endpoints: [expect.objectContaining({ ec2: 'http://127.0.0.1:4566', s3: 'http://127.0.0.1:4566' })],
    });
    expectNoCredentials(doc);
  });

  it('storage: an S3 bucket encrypted at rest with public access blocked', () => {
    const { json, doc } = synth((app) => new AwsStorageStack(app, 'st', { ...common, spec: {} }));

    expect(json).toHaveResourceWithProperties(S3Bucket, {
      bucket: 'skyloft-web-1-res-01jabcdef',
      force_destroy: false,
      tags: skyloftTags,
    });
    expect(json).toHaveResourceWithProperties(S3BucketServerSideEncryptionConfigurationA, {
      bucket: '${aws_s3_bucket.bucket.id}',
      rule: [expect.objectContaining({ apply_server_side_encryption_by_default: { sse_algorithm: 'AES256' } })],
    });
    expect(json).toHaveResourceWithProperties(S3BucketPublicAccessBlock, {
      bucket: '${aws_s3_bucket.bucket.id}',
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
    expectEmptyHttpBackend(doc);
    expectNoCredentials(doc);
  });

  it('network: a VPC and its subnets, with the outputs a vm consumes', () => {
    const spec = { cidrBlock: '10.0.0.0/16', subnets: [{ cidrBlock: '10.0.1.0/24' }, { cidrBlock: '10.0.2.0/24', availabilityZone: 'eu-west-1b' }] };
    const { json, doc } = synth((app) => new AwsNetworkStack(app, 'net', { ...common, spec }));

    expect(json).toHaveResourceWithProperties(Vpc, { cidr_block: '10.0.0.0/16', enable_dns_hostnames: true, tags: { Name: 'web 1', ...skyloftTags } });
    expect(json).toHaveResourceWithProperties(Subnet, { vpc_id: '${aws_vpc.vpc.id}', cidr_block: '10.0.2.0/24', availability_zone: 'eu-west-1b' });
    expect(Object.keys(doc.resource['aws_subnet'] ?? {})).toHaveLength(2);
    expectTagged(doc, ['aws_vpc', 'aws_subnet'], 'tags');
    expect(doc.output['vpc_id']).toEqual({ value: '${aws_vpc.vpc.id}' });
    expect(doc.output['subnet_id']).toEqual({ value: '${aws_subnet.subnet-0.id}' });
    expect(doc.output['subnet_ids']).toEqual({ value: '${tolist([aws_subnet.subnet-0.id, aws_subnet.subnet-1.id])}' });
    expectEmptyHttpBackend(doc);
    expectNoCredentials(doc);
  });
});
