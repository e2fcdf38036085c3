import { InstanceStateName, SubnetState, VolumeState, VpcState } from '@aws-sdk/client-ec2';
import { KnownDiskState } from '@azure/arm-compute';
import { KnownCommonProvisioningState } from '@azure/arm-network';
import protos from '@google-cloud/compute/build/protos/protos.js';
import { describe, expect, it } from 'vitest';
import * as aws from '../../src/clouds/aws/normalize.ts';
import * as azure from '../../src/clouds/azure/normalize.ts';
import * as gcp from '../../src/clouds/gcp/normalize.ts';
import { DECOYS } from '../../src/clouds/sandbox/world.ts';
import { INVENTORY_STATES, inventoryState, statusesOf } from '../../src/modules/inventory/state.ts';

const v1 = protos.google.cloud.compute.v1;
const names = (e: object) => Object.keys(e).filter((k) => Number.isNaN(Number(k)));
const AZURE_POWER_STATES = ['starting', 'running', 'stopping', 'deallocating', 'stopped', 'deallocated', 'unknown'];

/** Every status an adapter can report: each normalizer fed every value its SDK declares (src/clouds/<cloud>/normalize.ts). */
const produced: [string, string][] = [
  ...Object.values(InstanceStateName).map((s) => ['aws vm', aws.instanceItem({ InstanceId: 'i-1', State: { Name: s } }).status] as [string, string]),
  ...Object.values(VolumeState).map((s) => ['aws volume', aws.volumeItem({ VolumeId: 'vol-1', State: s }).status] as [string, string]),
  ...Object.values(VpcState).map((s) => ['aws vpc', aws.vpcItem({ VpcId: 'vpc-1', State: s }).status] as [string, string]),
  ...Object.values(SubnetState).map((s) => ['aws subnet', aws.subnetItem({ SubnetId: 'subnet-1', State: s }).status] as [string, string]),
  ['aws security group', aws.securityGroupItem({ GroupId: 'sg-1' }).status],
  ['aws bucket', aws.bucketItem({ Name: 'b' }, {}).status],
  ...AZURE_POWER_STATES.map((p) => ['azure vm', azure.virtualMachineItem({ id: '/vm', location: 'x', instanceView: { statuses: [{ code: `PowerState/${p}` }] } }).status] as [string, string]),
  ...Object.values(KnownCommonProvisioningState).map((p) => ['azure vm (no power state)', azure.virtualMachineItem({ id: '/vm', location: 'x', provisioningState: p }).status] as [string, string]),
  ...Object.values(KnownDiskState).map((s) => ['azure disk', azure.diskItem({ id: '/d', location: 'x', diskState: s }).status] as [string, string]),
  ...Object.values(KnownCommonProvisioningState).map((p) => ['azure disk (no disk state)', azure.diskItem({ id: '/d', location: 'x', provisioningState: p }).status] as [string, string]),
  ...Object.values(KnownCommonProvisioningState).map((p) => ['azure vnet', azure.virtualNetworkItem({ id: '/n', location: 'x', provisioningState: p }).status] as [string, string]),
  ...names(v1.Instance.Status).map((s) => ['gcp vm', gcp.instanceItem({ id: 1, status: s }, null).status] as [string, string]),
  ...names(v1.Disk.Status).map((s) => ['gcp disk', gcp.diskItem({ id: 1, status: s }, null).status] as [string, string]),
  ['gcp network', gcp.networkItem({ id: 1 }).status],
  // The sandbox lists what Skyloft manages as running or available, and its decoys as they are declared.
  ['sandbox managed vm', 'running'],
  ['sandbox managed storage or network', 'available'],
  ...DECOYS.map((d) => [`sandbox ${d.type}`, d.status] as [string, string]),
];

/** The statuses that say nothing usable about the object: failed, in error, or not known. Everything else maps. */
const NOT_A_STATE = new Set(['unknown', 'error', 'failed', 'failed-insufficient-capacity', 'unavailable', 'canceled', 'undefined_status']);

describe('inventory state', () => {
  it.each(produced)('maps every status the %s adapter reports (%s) to one of the seven words', (_source, status) => {
    const state = inventoryState(status);
    expect(INVENTORY_STATES).toContain(state);
    if (NOT_A_STATE.has(status.toLowerCase())) expect(state).toBe('unknown');
    else expect(state, `status "${status}" needs a state in src/modules/inventory/state.ts`).not.toBe('unknown');
  });

  it('reads the same status the same way whatever the cloud or its capitalization', () => {
    expect(['READY', 'available', 'in-use', 'Succeeded', 'Unattached', 'Attached'].map(inventoryState)).toEqual(Array(6).fill('available'));
    expect(['creating', 'Creating', 'CREATING', 'pending', 'ReadyToUpload'].map(inventoryState)).toEqual(Array(5).fill('pending'));
    expect(['deleting', 'Deleting', 'DELETING'].map(inventoryState)).toEqual(Array(3).fill('deleting'));
    expect(inventoryState('deleted')).toBe('terminated');
    expect(inventoryState('stopping')).toBe('stopped');
    expect(inventoryState('something-new')).toBe('unknown');
  });

  it('filters by exactly the statuses that read as the state (unknown: all the others)', () => {
    const statuses = [...new Set(produced.map(([, s]) => s)), 'something-new'];
    for (const state of INVENTORY_STATES) {
      const { statuses: listed, negate } = statusesOf(state);
      const matches = (s: string) => listed.includes(s.toLowerCase()) !== negate;
      expect(statuses.filter(matches).sort(), state).toEqual(statuses.filter((s) => inventoryState(s) === state).sort());
    }
  });
});
