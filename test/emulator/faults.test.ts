import { ComputeManagementClient } from '@azure/arm-compute';
import { DescribeInstancesCommand, DescribeVpcsCommand, EC2Client, paginateDescribeInstances } from '@aws-sdk/client-ec2';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { InstancesClient } from '@google-cloud/compute/build/src/v1/instances_client.js';
import { RegionsClient } from '@google-cloud/compute/build/src/v1/regions_client.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { awsClientConfig, azureClientOptions, azureCredential, gcpClientOptions } from './clients.ts';
import { startEmulator, type Emulator } from './emulator.ts';

let emu: Emulator;

beforeAll(async () => {
  emu = await startEmulator({ seed: 11, aws: { counts: { instances: 12 } }, azure: { pageSize: 10 } });
});
afterEach(() => {
  emu.faults.clear();
  emu.faults.resetCalls();
});
afterAll(() => emu.close());

const ec2 = (maxAttempts = 1, region = 'us-east-1') => new EC2Client({ ...awsClientConfig(emu, region), maxAttempts });
const arm = (maxRetries = 0) => new ComputeManagementClient(azureCredential(emu), emu.credentials.azure.subscriptionId, { ...azureClientOptions(emu), retryOptions: { maxRetries } });
const call = { timeout: 10_000, autoPaginate: false };

async function count(pages: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of pages) n++;
  return n;
}

describe('AWS faults surface as the SDK’s own errors', () => {
  it('throttles EC2 with RequestLimitExceeded (503), which the SDK retries through', async () => {
    emu.faults.add({ cloud: 'aws', operation: 'DescribeInstances', kind: 'throttle', count: 1 });
    await expect(ec2().send(new DescribeInstancesCommand({}))).rejects.toMatchObject({ name: 'RequestLimitExceeded', $metadata: { httpStatusCode: 503 } });
    emu.faults.add({ cloud: 'aws', operation: 'DescribeInstances', kind: 'throttle', everyNth: 2 });
    emu.faults.resetCalls();
    let instances = 0;
    for await (const page of paginateDescribeInstances({ client: ec2(3), pageSize: 5 }, {})) instances += page.Reservations?.length ?? 0;
    expect(instances).toBe(12);
    // Every second call throttled: the first page went through, the other two took a retry each.
    expect(emu.faults.calls('aws', 'DescribeInstances')).toBe(5);
    expect(emu.faults.list()[1]?.injected).toBe(2);
  });

  it('lets a paged listing complete under 30% random throttling, the SDK retrying', async () => {
    emu.faults.add({ cloud: 'aws', operation: 'DescribeInstances', kind: 'throttle', probability: 0.3 });
    let instances = 0;
    for await (const page of paginateDescribeInstances({ client: ec2(10), pageSize: 5 }, {})) instances += page.Reservations?.length ?? 0;
    expect(instances).toBe(12);
    expect(emu.faults.calls('aws', 'DescribeInstances')).toBe(3 + emu.faults.list()[0]!.injected);
  });

  it('answers server errors, auth failures and throttling in each service’s own code', async () => {
    emu.faults.add({ cloud: 'aws', operation: 'DescribeVpcs', kind: 'server-error', status: 500, count: 1 });
    await expect(ec2().send(new DescribeVpcsCommand({}))).rejects.toMatchObject({ name: 'InternalError', $metadata: { httpStatusCode: 500 } });
    emu.faults.add({ cloud: 'aws', operation: 'DescribeVpcs', kind: 'server-error', count: 1 });
    await expect(ec2().send(new DescribeVpcsCommand({}))).rejects.toMatchObject({ name: 'Unavailable', $metadata: { httpStatusCode: 503 } });
    emu.faults.add({ cloud: 'aws', operation: 'DescribeVpcs', kind: 'auth', count: 1 });
    await expect(ec2().send(new DescribeVpcsCommand({}))).rejects.toMatchObject({ name: 'AuthFailure' });
    emu.faults.add({ cloud: 'aws', operation: 'GetCallerIdentity', kind: 'throttle', count: 1 });
    await expect(new STSClient({ ...awsClientConfig(emu), maxAttempts: 1 }).send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({ name: 'Throttling' });
    emu.faults.add({ cloud: 'aws', operation: 'ListBuckets', kind: 'throttle', count: 1 });
    await expect(new S3Client({ ...awsClientConfig(emu), maxAttempts: 1 }).send(new ListBucketsCommand({}))).rejects.toMatchObject({ name: 'SlowDown' });
  });

  it('limits a fault to one region, and adds latency', async () => {
    emu.faults.add({ cloud: 'aws', region: 'us-west-2', kind: 'throttle' });
    emu.faults.add({ cloud: 'aws', region: 'eu-west-1', kind: 'latency', latencyMs: 300 });
    await expect(ec2(1, 'us-west-2').send(new DescribeVpcsCommand({}))).rejects.toMatchObject({ name: 'RequestLimitExceeded' });
    expect((await ec2(1, 'us-east-1').send(new DescribeVpcsCommand({}))).Vpcs).toHaveLength(2);
    const started = Date.now();
    await ec2(1, 'eu-west-1').send(new DescribeVpcsCommand({}));
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(emu.faults.calls('aws', 'DescribeVpcs', 'us-west-2')).toBe(1);
  });
});

describe('Azure faults surface as RestError', () => {
  it('throttles with 429 and Retry-After, which the SDK honours and retries through', async () => {
    emu.faults.add({ cloud: 'azure', operation: 'virtualMachines.list', kind: 'throttle', retryAfterSeconds: 2, count: 1 });
    const err = await count(arm().virtualMachines.listAll()).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'RestError', statusCode: 429, code: 'TooManyRequests' });
    expect((err as { response?: { headers: { get(h: string): string | undefined } } }).response?.headers.get('retry-after')).toBe('2');
    emu.faults.add({ cloud: 'azure', operation: 'virtualMachines.list', kind: 'throttle', retryAfterSeconds: 1, count: 1 });
    emu.faults.resetCalls();
    expect(await count(arm(3).virtualMachines.listAll())).toBe(45);
    expect(emu.faults.calls('azure', 'virtualMachines.list')).toBe(6);
  });

  it('answers server errors and auth failures', async () => {
    emu.faults.add({ cloud: 'azure', operation: 'disks.list', kind: 'server-error', count: 1 });
    await expect(count(arm().disks.list())).rejects.toMatchObject({ name: 'RestError', statusCode: 500, code: 'InternalServerError' });
    emu.faults.add({ cloud: 'azure', operation: 'disks.list', kind: 'auth', count: 1 });
    await expect(count(arm().disks.list())).rejects.toMatchObject({ name: 'RestError', statusCode: 401, code: 'InvalidAuthenticationToken' });
    emu.faults.add({ cloud: 'azure', operation: 'token', kind: 'auth', count: 1 });
    await expect(azureCredential(emu).getToken('https://management.azure.com/.default')).rejects.toThrow(/AADSTS7000222/);
  });
});

describe('GCP faults surface as gax errors', () => {
  const project = () => emu.credentials.gcp.projectId;

  it('throttles with 429 rateLimitExceeded as RESOURCE_EXHAUSTED (code 8)', async () => {
    emu.faults.add({ cloud: 'gcp', operation: 'instances.aggregatedList', kind: 'throttle', count: 1 });
    const err = await count(new InstancesClient(gcpClientOptions(emu)).aggregatedListAsync({ project: project() }, call)).catch((e: unknown) => e);
    // gax reads the google.rpc.ErrorInfo detail GCE sends beside errors[].reason = 'rateLimitExceeded'.
    expect(err).toMatchObject({ code: 8, httpStatusCode: 429, reason: 'RATE_LIMIT_EXCEEDED', message: expect.stringContaining('Quota exceeded') });
  });

  it('retries a 503 (UNAVAILABLE) by itself, and answers 500 with INTERNAL (13) and auth failure with 16', async () => {
    const regions = new RegionsClient(gcpClientOptions(emu));
    emu.faults.add({ cloud: 'gcp', operation: 'regions.list', kind: 'server-error', status: 503, count: 1 });
    const [list] = await regions.list({ project: project() }, call);
    expect(list.length).toBeGreaterThan(0);
    expect(emu.faults.calls('gcp', 'regions.list')).toBe(2);
    emu.faults.add({ cloud: 'gcp', operation: 'regions.list', kind: 'server-error', count: 1 });
    await expect(regions.list({ project: project() }, call)).rejects.toMatchObject({ code: 13 });
    emu.faults.add({ cloud: 'gcp', operation: 'regions.list', kind: 'auth', count: 1 });
    await expect(regions.list({ project: project() }, call)).rejects.toMatchObject({ code: 16 });
  });
});
