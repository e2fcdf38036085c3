import { ComputeManagementClient } from '@azure/arm-compute';
import { EC2Client, paginateDescribeInstances, type Instance } from '@aws-sdk/client-ec2';
import { InstancesClient } from '@google-cloud/compute/build/src/v1/instances_client.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsClientConfig, azureClientOptions, azureCredential, gcpClientOptions } from './clients.ts';
import { startEmulator, type Emulator } from './emulator.ts';

let emu: Emulator;

beforeAll(async () => {
  emu = await startEmulator({ seed: 5, aws: { regions: ['us-east-1'], counts: { instances: 30 } }, azure: { pageSize: 8 } });
});
afterAll(() => emu.close());

async function ec2Instances(pageSize = 10, between?: () => void): Promise<Instance[]> {
  const client = new EC2Client(awsClientConfig(emu));
  const out: Instance[] = [];
  for await (const page of paginateDescribeInstances({ client, pageSize }, {})) {
    for (const r of page.Reservations ?? []) out.push(...(r.Instances ?? []));
    between?.();
  }
  return out;
}

const tag = (i: Instance, key: string) => i.Tags?.find((t) => t.Key === key)?.Value;

describe('mutations between syncs', () => {
  it('shows EC2 creates, deletes and changes in the next listing', async () => {
    const before = await ec2Instances();
    expect(before).toHaveLength(30);
    const [gone, changed] = [before[3]!.InstanceId!, before[7]!.InstanceId!];
    const created = emu.fleet.create({ cloud: 'aws', kind: 'instances', region: 'us-east-1', state: 'pending', type: 'm7i.large', tags: { 'skyloft-resource-id': 'res-1', 'skyloft-account-id': 'acc-1' } });
    expect(emu.fleet.delete(gone)).toBe(true);
    expect(emu.fleet.change(changed, { state: 'stopped', type: 'c7g.xlarge' })).toBe(true);

    const after = await ec2Instances();
    expect(after).toHaveLength(30);
    expect(after.map((i) => i.InstanceId)).not.toContain(gone);
    const mine = after.find((i) => i.InstanceId === created.id)!;
    expect(mine).toMatchObject({ InstanceType: 'm7i.large', State: { Name: 'pending', Code: 0 } });
    expect(tag(mine, 'skyloft-resource-id')).toBe('res-1');
    expect(after.find((i) => i.InstanceId === changed)).toMatchObject({ InstanceType: 'c7g.xlarge', State: { Name: 'stopped', Code: 80 } });
    // Everything else is unchanged.
    const untouched = (list: Instance[]) => list.filter((i) => ![gone, changed, created.id].includes(i.InstanceId!)).map((i) => JSON.stringify(i));
    expect(untouched(after)).toEqual(untouched(before));
  });

  it('keeps a listing consistent when a resource is deleted while it is being paged', async () => {
    const ids = emu.fleet.ids('aws', 'instances', 'us-east-1', 100);
    let deleted: string | undefined;
    const seen = await ec2Instances(10, () => {
      deleted ??= ids.at(-1);
      emu.fleet.delete(deleted!);
    });
    expect(seen.map((i) => i.InstanceId)).toEqual(ids.slice(0, -1));
  });

  it('shows Azure and GCP changes in the next listing', async () => {
    const compute = new ComputeManagementClient(azureCredential(emu), emu.credentials.azure.subscriptionId, azureClientOptions(emu));
    const [vmA, vmB] = emu.fleet.ids('azure', 'virtualMachines', 'westeurope', 2);
    emu.fleet.change(vmA!, { type: 'Standard_D8s_v5', tags: { owner: 'skyloft' } });
    emu.fleet.delete(vmB!);
    const vms = [];
    for await (const vm of compute.virtualMachines.listAll()) vms.push(vm);
    expect(vms).toHaveLength(44);
    expect(vms.find((vm) => vm.name === vmA)).toMatchObject({ hardwareProfile: { vmSize: 'Standard_D8s_v5' }, tags: { owner: 'skyloft' } });
    expect(vms.some((vm) => vm.name === vmB)).toBe(false);

    const gce = new InstancesClient(gcpClientOptions(emu));
    const project = emu.credentials.gcp.projectId;
    const created = emu.fleet.create({ cloud: 'gcp', kind: 'instances', region: 'europe-west1-b', state: 'RUNNING', tags: { 'skyloft-resource-id': 'ABC-1' } });
    const before = [];
    for await (const [, l] of gce.aggregatedListAsync({ project }, { timeout: 10_000, autoPaginate: false })) before.push(...(l.instances ?? []));
    const mine = before.find((i) => i.name === created.id)!;
    expect(mine.labels).toMatchObject({ 'skyloft-resource-id': 'abc-1' });
    // GCE's numeric id names the resource too.
    expect(emu.fleet.delete(String(mine.id))).toBe(true);
    const after = [];
    for await (const [, l] of gce.aggregatedListAsync({ project }, { timeout: 10_000, autoPaginate: false })) after.push(...(l.instances ?? []));
    expect(after).toHaveLength(before.length - 1);
    expect(emu.fleet.count('gcp', 'instances')).toBe(after.length);
  });

  it('makes the same fleet from the same seed and a different one from another seed', async () => {
    const again = await startEmulator({ seed: 5, aws: { regions: ['us-east-1'], counts: { instances: 30 } } });
    const other = await startEmulator({ seed: 6, aws: { regions: ['us-east-1'], counts: { instances: 30 } } });
    try {
      const first = (e: Emulator) => e.fleet.find(e.fleet.ids('aws', 'instances', 'us-east-1', 1)[0]!)!;
      const a = first(again);
      const b = first(other);
      expect({ id: a.id, type: a.type, tags: a.tags, state: a.state }).toEqual({ id: a.id, ...pick(emu.fleet.find(a.id)!) });
      expect(b.id).not.toBe(a.id);
    } finally {
      await Promise.all([again.close(), other.close()]);
    }
  });
});

function pick(it: { type: string; tags: Record<string, string>; state: string }) {
  return { type: it.type, tags: it.tags, state: it.state };
}
