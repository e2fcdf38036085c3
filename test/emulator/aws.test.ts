import {
  DescribeInstancesCommand,
  DescribeRegionsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVolumesCommand,
  DescribeVpcsCommand,
  EC2Client,
  paginateDescribeInstances,
  type Instance,
} from '@aws-sdk/client-ec2';
import { GetBucketTaggingCommand, ListBucketsCommand, paginateListBuckets, S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsClientConfig } from './clients.ts';
import { startEmulator, type Emulator } from './emulator.ts';

const ROLE = 'arn:aws:iam::210987654321:role/skyloft-inventory';
let emu: Emulator;

beforeAll(async () => {
  emu = await startEmulator({
    seed: 42,
    aws: { regions: ['us-east-1', 'eu-west-1'], counts: { instances: { 'us-east-1': 23, 'eu-west-1': 4 }, buckets: 3 }, roles: [{ arn: ROLE, externalId: 'ext-1' }] },
  });
});
afterAll(() => emu.close());

const ec2 = (region = 'us-east-1', config = {}) => new EC2Client({ ...awsClientConfig(emu, region), maxAttempts: 1, ...config });

async function allInstances(client: EC2Client, pageSize: number): Promise<Instance[]> {
  const out: Instance[] = [];
  for await (const page of paginateDescribeInstances({ client, pageSize }, {})) {
    for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []));
  }
  return out;
}

describe('EC2 through @aws-sdk/client-ec2', () => {
  it('pages DescribeInstances with MaxResults/NextToken to exactly the seeded count of the signed region', async () => {
    emu.faults.resetCalls();
    const instances = await allInstances(ec2('us-east-1'), 5);
    expect(instances).toHaveLength(23);
    expect(new Set(instances.map((i) => i.InstanceId)).size).toBe(23);
    expect(emu.faults.calls('aws', 'DescribeInstances', 'us-east-1')).toBe(5);
    const first = instances[0]!;
    expect(first.InstanceId).toMatch(/^i-0[0-9a-f]{16}$/);
    expect(['running', 'stopped', 'pending', 'stopping', 'shutting-down']).toContain(first.State?.Name);
    expect(first.State?.Code).toBeTypeOf('number');
    expect(first.InstanceType).toBeTruthy();
    expect(first.LaunchTime).toBeInstanceOf(Date);
    expect(first.Placement?.AvailabilityZone).toMatch(/^us-east-1[abc]$/);
    expect(first.PrivateIpAddress).toMatch(/^10\./);
    expect(first.BlockDeviceMappings?.[0]?.Ebs?.VolumeId).toMatch(/^vol-/);
    expect(first.NetworkInterfaces?.[0]?.NetworkInterfaceId).toMatch(/^eni-/);
    expect(first.Tags?.map((t) => t.Key)).toEqual(expect.arrayContaining(['Name', 'env', 'team']));
    const managed = instances.filter((i) => i.Tags?.some((t) => t.Key === 'skyloft-resource-id'));
    expect(managed.every((i) => i.Tags?.some((t) => t.Key === 'skyloft-account-id'))).toBe(true);
    expect(await allInstances(ec2('eu-west-1'), 1000)).toHaveLength(4);
  });

  it('answers the same fleet for the same seed, and InstanceId lookups including NotFound', async () => {
    const [id] = emu.fleet.ids('aws', 'instances', 'us-east-1', 1);
    const out = await ec2().send(new DescribeInstancesCommand({ InstanceIds: [id!] }));
    expect(out.Reservations?.[0]?.Instances?.[0]?.InstanceId).toBe(id);
    await expect(ec2().send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] }))).rejects.toMatchObject({ name: 'InvalidInstanceID.NotFound' });
    await expect(ec2().send(new DescribeInstancesCommand({ MaxResults: 2000 }))).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  });

  it('parses non-empty fields from every other describe call', async () => {
    const client = ec2();
    const { Volumes = [] } = await client.send(new DescribeVolumesCommand({}));
    expect(Volumes).toHaveLength(25);
    expect(Volumes[0]).toMatchObject({ VolumeId: expect.stringMatching(/^vol-/), Size: expect.any(Number), VolumeType: expect.any(String), State: expect.any(String) });
    expect(Volumes[0]?.CreateTime).toBeInstanceOf(Date);
    expect(Volumes.some((v) => v.Attachments?.[0]?.InstanceId?.startsWith('i-'))).toBe(true);
    const { Vpcs = [] } = await client.send(new DescribeVpcsCommand({}));
    expect(Vpcs[0]).toMatchObject({ VpcId: expect.stringMatching(/^vpc-/), CidrBlock: expect.any(String), State: 'available', OwnerId: '123456789012' });
    const { Subnets = [] } = await client.send(new DescribeSubnetsCommand({ MaxResults: 5 }));
    expect(Subnets[0]).toMatchObject({ SubnetId: expect.stringMatching(/^subnet-/), VpcId: Vpcs[0]!.VpcId, AvailabilityZone: expect.any(String) });
    const { SecurityGroups = [] } = await client.send(new DescribeSecurityGroupsCommand({}));
    expect(SecurityGroups[0]).toMatchObject({ GroupId: expect.stringMatching(/^sg-/), GroupName: expect.any(String), VpcId: expect.any(String) });
    expect(SecurityGroups[0]?.IpPermissions?.[0]?.IpRanges?.[0]?.CidrIp).toBe('0.0.0.0/0');
    expect(SecurityGroups[0]?.Tags?.length).toBeGreaterThan(0);
  });

  it('lists enabled regions, and the not-opted-in one only with AllRegions, where calls fail with AuthFailure', async () => {
    const enabled = await ec2().send(new DescribeRegionsCommand({}));
    expect(enabled.Regions?.map((r) => r.RegionName)).toEqual(['us-east-1', 'eu-west-1']);
    const all = await ec2().send(new DescribeRegionsCommand({ AllRegions: true }));
    expect(all.Regions?.find((r) => r.RegionName === 'ap-east-1')?.OptInStatus).toBe('not-opted-in');
    await expect(ec2('ap-east-1').send(new DescribeVpcsCommand({}))).rejects.toMatchObject({ name: 'AuthFailure' });
  });

  it('rejects an unknown access key as AWS does, per service', async () => {
    const bad = { ...emu.credentials.aws, accessKeyId: 'AKIAUNKNOWN000000000' };
    await expect(new EC2Client({ ...awsClientConfig(emu, 'us-east-1', bad), maxAttempts: 1 }).send(new DescribeVpcsCommand({})))
      .rejects.toMatchObject({ name: 'AuthFailure', $metadata: { httpStatusCode: 401 } });
    await expect(new STSClient({ ...awsClientConfig(emu, 'us-east-1', bad), maxAttempts: 1 }).send(new GetCallerIdentityCommand({})))
      .rejects.toMatchObject({ name: 'InvalidClientTokenId', $metadata: { httpStatusCode: 403 } });
    await expect(new S3Client({ ...awsClientConfig(emu, 'us-east-1', bad), maxAttempts: 1 }).send(new ListBucketsCommand({})))
      .rejects.toMatchObject({ name: 'InvalidAccessKeyId' });
  });
});

describe('STS and S3', () => {
  it('answers GetCallerIdentity for the key', async () => {
    const id = await new STSClient(awsClientConfig(emu)).send(new GetCallerIdentityCommand({}));
    expect(id).toMatchObject({ Account: '123456789012', Arn: 'arn:aws:iam::123456789012:user/skyloft', UserId: expect.any(String) });
  });

  it('assumes a role through fromTemporaryCredentials and accepts the session credentials on EC2', async () => {
    const config = awsClientConfig(emu);
    const credentials = fromTemporaryCredentials({
      masterCredentials: config.credentials,
      params: { RoleArn: ROLE, RoleSessionName: 'skyloft-sync', ExternalId: 'ext-1' },
      clientConfig: { endpoint: config.endpoint, region: 'us-east-1' },
    });
    const sts = new STSClient({ ...config, credentials });
    expect((await sts.send(new GetCallerIdentityCommand({}))).Arn).toBe('arn:aws:sts::210987654321:assumed-role/skyloft-inventory/skyloft-sync');
    const temporary = await credentials();
    expect(temporary.accessKeyId).toMatch(/^ASIA/);
    expect(temporary.sessionToken).toBeTruthy();
    const vpcs = await new EC2Client({ ...config, credentials }).send(new DescribeVpcsCommand({}));
    expect(vpcs.Vpcs).toHaveLength(2);
    // The session token is part of the credential: the key without it is refused.
    const withoutToken = { accessKeyId: temporary.accessKeyId, secretAccessKey: temporary.secretAccessKey };
    await expect(new EC2Client({ ...config, credentials: withoutToken, maxAttempts: 1 }).send(new DescribeVpcsCommand({}))).rejects.toMatchObject({ name: 'AuthFailure' });
  });

  it('refuses AssumeRole with the wrong ExternalId', async () => {
    const config = awsClientConfig(emu);
    const credentials = fromTemporaryCredentials({
      masterCredentials: config.credentials,
      params: { RoleArn: ROLE, RoleSessionName: 'skyloft-sync', ExternalId: 'wrong' },
      clientConfig: { endpoint: config.endpoint, region: 'us-east-1', maxAttempts: 1 },
    });
    await expect(credentials()).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('lists buckets of every region, pages with MaxBuckets, and reads bucket tags', async () => {
    const s3 = new S3Client({ ...awsClientConfig(emu), forcePathStyle: true });
    const { Buckets = [], Owner } = await s3.send(new ListBucketsCommand({}));
    expect(Buckets).toHaveLength(6);
    expect(Buckets[0]).toMatchObject({ Name: expect.stringMatching(/^bkt-/), BucketRegion: 'us-east-1' });
    expect(Buckets[0]?.CreationDate).toBeInstanceOf(Date);
    expect(Buckets.at(-1)?.BucketRegion).toBe('eu-west-1');
    expect(Owner?.ID).toBeTruthy();
    const paged: string[] = [];
    for await (const page of paginateListBuckets({ client: s3, pageSize: 4 }, {})) paged.push(...(page.Buckets ?? []).map((b) => b.Name!));
    expect(paged).toEqual(Buckets.map((b) => b.Name));
    const tags = await s3.send(new GetBucketTaggingCommand({ Bucket: Buckets[0]!.Name! }));
    expect(tags.TagSet?.map((t) => t.Key)).toEqual(expect.arrayContaining(['env', 'team']));
  });
});
