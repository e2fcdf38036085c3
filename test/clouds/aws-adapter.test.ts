import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openCloud, type CloudInput, type OpenedCloud } from '../../src/clouds/index.ts';
import { AwsClients } from '../../src/clouds/aws/clients.ts';
import { CloudAuthError, CloudThrottledError, CloudUnavailableError } from '../../src/clouds/ports.ts';
import { startEmulator, type Emulator } from '../emulator/emulator.ts';
import { DEFAULT_AWS_KEY } from '../emulator/options.ts';
import { listAll, testBudget, testOutbound } from './support.ts';

const ROLE = 'arn:aws:iam::210987654321:role/skyloft-inventory';
const SPARE_KEY = { accessKeyId: 'AKIAEMULATOR00000002', secretAccessKey: 'emulator/secret/key/0000000000000000000002', accountId: '123456789012' };
const { budget, redis, prefix, start: startBudget, stop: stopBudget } = testBudget();
let emu: Emulator;

beforeAll(async () => {
  await startBudget();
  emu = await startEmulator({
    seed: 21,
    managedShare: 0.3,
    aws: {
      regions: ['us-east-1', 'eu-west-1'],
      counts: { instances: { 'us-east-1': 60, 'eu-west-1': 7 }, volumes: 12, vpcs: 3, subnets: 6, securityGroups: 4, buckets: 3 },
      keys: [DEFAULT_AWS_KEY, SPARE_KEY],
      roles: [{ arn: ROLE, externalId: 'ext-1' }],
    },
  });
});
afterEach(() => {
  emu.faults.clear();
  emu.faults.resetCalls();
});
afterAll(async () => {
  await emu?.close();
  await stopBudget();
});

function open(overrides: Partial<CloudInput> = {}): Promise<OpenedCloud> {
  return openCloud({
    provider: 'aws',
    credentialId: randomUUID(),
    region: 'us-east-1',
    endpoints: { api: emu.urls.aws },
    options: { pageSize: 5 },
    secret: { accessKeyId: DEFAULT_AWS_KEY.accessKeyId, secretAccessKey: DEFAULT_AWS_KEY.secretAccessKey },
    ...overrides,
  }, { budget, outbound: testOutbound });
}


/** The emulator's own view of a scope, by id. */
function seeded(kind: string, region?: string) {
  return new Map(emu.fleet.page(emu.fleet.scopes('aws', kind, region), undefined, 10_000).items.map((i) => [i.id, i]));
}

const VM_STATUS: Record<string, string> = { running: 'running', stopped: 'stopped', pending: 'pending', stopping: 'stopping', 'shutting-down': 'stopping' };

describe('the AWS adapter against the emulator', () => {
  it('lists the enabled regions times the EC2 kinds, plus one global bucket scope; a configured region list needs no call', async () => {
    const scopes = await (await open()).inventory.scopes();
    expect(scopes).toHaveLength(11);
    expect(scopes).toContainEqual({ region: 'eu-west-1', kind: 'ec2:security-group' });
    expect(scopes.at(-1)).toEqual({ region: 'global', kind: 's3:bucket' });
    expect(emu.faults.calls('aws', 'DescribeRegions')).toBe(1);
    const configured = await (await open({ regions: ['eu-west-1'] })).inventory.scopes();
    expect(configured.map((s) => s.region)).toEqual(['eu-west-1', 'eu-west-1', 'eu-west-1', 'eu-west-1', 'eu-west-1', 'global']);
    expect(emu.faults.calls('aws', 'DescribeRegions')).toBe(1);
  });

  it('pages instances to the exact seeded count with normalized status, name, tags and metadata', async () => {
    const items = await listAll(await open(), { region: 'us-east-1', kind: 'ec2:instance' });
    const fleet = seeded('instances', 'us-east-1');
    expect(items).toHaveLength(60);
    expect(new Set(items.map((i) => i.externalId))).toEqual(new Set(fleet.keys()));
    expect(emu.faults.calls('aws', 'DescribeInstances', 'us-east-1')).toBe(12);
    for (const item of items) {
      const f = fleet.get(item.externalId)!;
      expect(item).toMatchObject({ type: 'vm', status: VM_STATUS[f.state], name: f.tags.Name, tags: f.tags });
      expect(item.metadata).toMatchObject({ instanceType: f.type, availabilityZone: f.zone, launchTime: f.createdAt.toISOString() });
    }
    expect(items[0]!.metadata).toMatchObject({ privateIp: expect.stringMatching(/^10\./), vpcId: expect.stringMatching(/^vpc-/), subnetId: expect.stringMatching(/^subnet-/) });
    const managed = items.filter((i) => i.tags['skyloft-resource-id']);
    expect(managed.length).toBe([...fleet.values()].filter((f) => f.tags['skyloft-resource-id']).length);
    expect(managed.length).toBeGreaterThan(0);
    expect(await listAll(await open(), { region: 'eu-west-1', kind: 'ec2:instance' })).toHaveLength(7);
  });

  it('pages volumes, VPCs, subnets and security groups of a region with their essentials', async () => {
    const cloud = await open();
    const volumes = await listAll(cloud, { region: 'eu-west-1', kind: 'ec2:volume' });
    const fleet = seeded('volumes', 'eu-west-1');
    expect(volumes).toHaveLength(12);
    for (const v of volumes) {
      const f = fleet.get(v.externalId)!;
      expect(v).toMatchObject({ type: 'storage', status: f.state, tags: f.tags, metadata: { sizeGb: f.sizeGb, volumeType: f.type, availabilityZone: f.zone } });
    }
    expect(volumes.find((v) => v.status === 'in-use')?.metadata.attachments).toEqual([expect.objectContaining({ instanceId: expect.stringMatching(/^i-/) })]);
    expect(emu.faults.calls('aws', 'DescribeVolumes', 'eu-west-1')).toBe(3);
    const vpcs = await listAll(cloud, { region: 'eu-west-1', kind: 'ec2:vpc' });
    expect(vpcs).toHaveLength(3);
    expect(vpcs[0]).toMatchObject({ type: 'network', status: 'available', metadata: { cidrBlock: '10.0.0.0/16', cidrBlocks: ['10.0.0.0/16'], isDefault: true } });
    const subnets = await listAll(cloud, { region: 'eu-west-1', kind: 'ec2:subnet' });
    expect(subnets).toHaveLength(6);
    expect(subnets[0]).toMatchObject({ type: 'network', status: 'available', metadata: { vpcId: vpcs[0]!.externalId, cidrBlock: expect.any(String) } });
    const groups = await listAll(cloud, { region: 'eu-west-1', kind: 'ec2:security-group' });
    expect(groups).toHaveLength(4);
    expect(groups[0]).toMatchObject({ type: 'network', status: 'available', metadata: { groupName: expect.any(String), vpcId: expect.stringMatching(/^vpc-/) } });
  });

  it('builds its clients without the SDK logger middleware (it would copy every answer to mask it for a no-op logger)', async () => {
    const clients = new AwsClients({ provider: 'aws', credentialId: randomUUID(), region: 'us-east-1', endpoints: { api: emu.urls.aws }, secret: { accessKeyId: DEFAULT_AWS_KEY.accessKeyId, secretAccessKey: DEFAULT_AWS_KEY.secretAccessKey } }, testOutbound.agents());
    const stacks = [await clients.ec2For('eu-west-1'), await clients.s3For(), await clients.stsClient(), await clients.ceClient()].map((c) => c.middlewareStack.identify().join());
    for (const stack of stacks) {
      expect(stack).toContain('retryMiddleware');
      expect(stack).not.toContain('loggerMiddleware');
    }
  });

  it('lists every bucket once with its tags (GetBucketTagging), and only the configured regions when set', async () => {
    const buckets = await listAll(await open(), { region: 'global', kind: 's3:bucket' });
    const fleet = seeded('buckets');
    expect(buckets).toHaveLength(6);
    for (const b of buckets) expect(b).toMatchObject({ type: 'storage', name: b.externalId, tags: fleet.get(b.externalId)!.tags, metadata: { bucketRegion: fleet.get(b.externalId)!.scope.region } });
    expect(emu.faults.calls('aws', 'ListBuckets')).toBe(2);
    expect(emu.faults.calls('aws', 'GetBucketTagging')).toBe(6);
    expect(await listAll(await open({ regions: ['eu-west-1'] }), { region: 'global', kind: 's3:bucket' })).toHaveLength(3);
  });

  it('completes a listing under 30% throttling through the budget, which retries and slows down', async () => {
    emu.faults.add({ cloud: 'aws', operation: 'DescribeInstances', kind: 'throttle', probability: 0.3 });
    const credentialId = randomUUID();
    const items = await listAll(await open({ credentialId }), { region: 'us-east-1', kind: 'ec2:instance' });
    expect(items).toHaveLength(60);
    const injected = emu.faults.list()[0]!.injected;
    expect(injected).toBeGreaterThan(0);
    expect(emu.faults.calls('aws', 'DescribeInstances')).toBe(12 + injected);
    // Each throttle went through the shared bucket of (credential, region, ec2), which blocked it for a while.
    const blockedUntil = Number(await redis.hget(`${prefix}:budget:${credentialId}:us-east-1:ec2`, 'blockedUntil'));
    expect(blockedUntil).toBeGreaterThan(0);
  });

  it('fails 5xx answers as CloudUnavailableError after a few attempts, never as a throttle', async () => {
    emu.faults.add({ cloud: 'aws', operation: 'DescribeVpcs', kind: 'server-error', status: 500 });
    const err = await listAll(await open(), { region: 'us-east-1', kind: 'ec2:vpc' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudUnavailableError);
    expect(err).not.toBeInstanceOf(CloudThrottledError);
    expect((err as Error).message).toMatch(/InternalError \(HTTP 500\)/);
    expect(emu.faults.calls('aws', 'DescribeVpcs')).toBe(3);
    emu.faults.clear();
    // EC2's 503 Unavailable is an outage, not RequestLimitExceeded.
    emu.faults.add({ cloud: 'aws', operation: 'DescribeSubnets', kind: 'server-error' });
    await expect(listAll(await open(), { region: 'us-east-1', kind: 'ec2:subnet' })).rejects.toThrow(/Unavailable \(HTTP 503\)/);
  });

  it('stops at once when the caller aborts, with the abort reason rather than a cloud error', async () => {
    emu.faults.add({ cloud: 'aws', operation: 'DescribeVpcs', kind: 'latency', latencyMs: 2000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('sync canceled')), 100);
    const started = Date.now();
    const pages = (await open()).inventory.list({ region: 'us-east-1', kind: 'ec2:vpc' }, controller.signal);
    await expect((async () => { for await (const _ of pages); })()).rejects.toThrow('sync canceled');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('probes health with GetCallerIdentity: ok, slow as the caller measures it, throttled then ok', async () => {
    const cloud = await open();
    await expect(cloud.health.probe()).resolves.toBeUndefined();
    expect(emu.faults.calls('aws', 'GetCallerIdentity')).toBe(1);
    emu.faults.add({ cloud: 'aws', operation: 'GetCallerIdentity', kind: 'latency', latencyMs: 400 });
    const started = Date.now();
    await cloud.health.probe();
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    emu.faults.clear();
    emu.faults.add({ cloud: 'aws', operation: 'GetCallerIdentity', kind: 'throttle', count: 1 });
    // STS's Throttling answer, retried by the budget: the probe succeeds on the second call.
    await cloud.health.probe();
    expect(emu.faults.calls('aws', 'GetCallerIdentity')).toBe(4);
  });

  it('answers a revoked key with CloudAuthError, from lists and from the probe', async () => {
    const cloud = await open({ secret: { accessKeyId: SPARE_KEY.accessKeyId, secretAccessKey: SPARE_KEY.secretAccessKey } });
    await cloud.health.probe();
    emu.revoke(SPARE_KEY.accessKeyId);
    await expect(cloud.health.probe()).rejects.toBeInstanceOf(CloudAuthError);
    await expect(listAll(cloud, { region: 'us-east-1', kind: 'ec2:instance' })).rejects.toThrow(/AuthFailure.*Check the credential/);
    await expect(listAll(cloud, { region: 'global', kind: 's3:bucket' })).rejects.toBeInstanceOf(CloudAuthError);
    // Auth errors are not retried: one call each.
    expect(emu.faults.calls('aws', 'DescribeInstances')).toBe(1);
  });

  it('assumes a role once for every region and lists with the session credentials; a wrong ExternalId is an auth error', async () => {
    const secret = { roleArn: ROLE, externalId: 'ext-1', accessKeyId: DEFAULT_AWS_KEY.accessKeyId, secretAccessKey: DEFAULT_AWS_KEY.secretAccessKey };
    const cloud = await open({ secret });
    await cloud.health.probe();
    expect(await listAll(cloud, { region: 'us-east-1', kind: 'ec2:vpc' })).toHaveLength(3);
    expect(await listAll(cloud, { region: 'eu-west-1', kind: 'ec2:vpc' })).toHaveLength(3);
    expect(await listAll(cloud, { region: 'global', kind: 's3:bucket' })).toHaveLength(6);
    expect(emu.faults.calls('aws', 'AssumeRole')).toBe(1);
    const wrong = await open({ secret: { ...secret, externalId: 'wrong' } });
    await expect(wrong.health.probe()).rejects.toThrow(CloudAuthError);
    await expect(listAll(wrong, { region: 'us-east-1', kind: 'ec2:vpc' })).rejects.toThrow(/AccessDenied/);
  });
});
