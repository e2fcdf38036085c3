import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openCloud, type CloudInput, type OpenedCloud } from '../../src/clouds/index.ts';
import { CloudAuthError, CloudThrottledError, CloudUnavailableError, type Scope } from '../../src/clouds/ports.ts';
import { startEmulator, type Emulator } from '../emulator/emulator.ts';
import { labels, numericId } from '../emulator/gcp/resources.ts';
import { listAll, testBudget, testOutbound } from './support.ts';

const { budget, start: startBudget, stop: stopBudget } = testBudget();
let emu: Emulator;

beforeAll(async () => {
  await startBudget();
  emu = await startEmulator({
    seed: 23,
    managedShare: 0.3,
    gcp: { counts: { instances: { 'us-central1-a': 12, 'us-central1-b': 5, 'europe-west1-b': 8, 'asia-east1-a': 0 }, disks: 6, networks: 7 } },
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
  const g = emu.credentials.gcp;
  return openCloud({
    provider: 'gcp',
    credentialId: randomUUID(),
    endpoints: { api: emu.urls.gcp },
    options: { pageSize: 5 },
    secret: { serviceAccountJson: JSON.stringify(g.serviceAccountKey), projectId: g.projectId },
    ...overrides,
  }, { budget, outbound: testOutbound });
}


/** The emulator's items of a kind by GCE numeric id. */
function seeded(kind: string) {
  return new Map(emu.fleet.page(emu.fleet.scopes('gcp', kind), undefined, 10_000).items.map((i) => [numericId(i.scope, i.index), i]));
}

const VM_STATUS: Record<string, string> = { RUNNING: 'running', TERMINATED: 'stopped', SUSPENDED: 'stopped', STAGING: 'pending' };
const INSTANCES: Scope = { region: 'global', kind: 'gce:instance' };
const DISKS: Scope = { region: 'global', kind: 'gce:disk' };
const NETWORKS: Scope = { region: 'global', kind: 'gce:network' };

describe('the GCP adapter against the emulator', () => {
  it('has one project-wide scope per kind, since aggregated lists walk every zone in one chain', async () => {
    expect(await (await open()).inventory.scopes()).toEqual([INSTANCES, DISKS, NETWORKS]);
  });

  it('pages the aggregated instance list with zone, region, normalized status and labels', async () => {
    const items = await listAll(await open(), INSTANCES);
    const fleet = seeded('instances');
    expect(items).toHaveLength(25);
    expect(emu.faults.calls('gcp', 'instances.aggregatedList')).toBe(5);
    // Self-signed JWTs: no token endpoint involved.
    expect(emu.faults.calls('gcp', 'token')).toBe(0);
    for (const item of items) {
      const f = fleet.get(item.externalId)!;
      expect(item).toMatchObject({ type: 'vm', name: f.id, status: VM_STATUS[f.state], tags: labels(f.tags) });
      expect(item.metadata).toMatchObject({ zone: f.scope.region, region: f.scope.region.slice(0, -2), machineType: f.type, gceStatus: f.state });
    }
    expect(items.filter((i) => i.tags['skyloft-resource-id']).length).toBeGreaterThan(0);
    expect(items[0]!.metadata.networkIP).toMatch(/^10\./);
  });

  it('pages disks (aggregated) and networks (global)', async () => {
    const cloud = await open();
    const disks = await listAll(cloud, DISKS);
    const fleet = seeded('disks');
    expect(disks).toHaveLength(24);
    expect(emu.faults.calls('gcp', 'disks.aggregatedList')).toBe(5);
    for (const d of disks) {
      const f = fleet.get(d.externalId)!;
      expect(d).toMatchObject({ type: 'storage', status: f.state, tags: labels(f.tags), metadata: { sizeGb: f.sizeGb, diskType: f.type, zone: f.scope.region } });
    }
    const networks = await listAll(cloud, NETWORKS);
    expect(networks).toHaveLength(7);
    expect(emu.faults.calls('gcp', 'networks.list')).toBe(2);
    expect(networks[0]).toMatchObject({ type: 'network', status: 'available', externalId: expect.stringMatching(/^\d{19}$/), metadata: { autoCreateSubnetworks: true } });
  });

  it('keeps only the configured regions when the credential lists some', async () => {
    const items = await listAll(await open({ regions: ['europe-west1'] }), INSTANCES);
    expect(items).toHaveLength(8);
    expect(items.every((i) => i.metadata.zone === 'europe-west1-b')).toBe(true);
  });

  it('completes a listing under 30% throttling (429 rateLimitExceeded) through the budget', async () => {
    emu.faults.add({ cloud: 'gcp', operation: 'disks.aggregatedList', kind: 'throttle', probability: 0.3 });
    expect(await listAll(await open({ options: { pageSize: 2 } }), DISKS)).toHaveLength(24);
    const injected = emu.faults.list()[0]!.injected;
    expect(injected).toBeGreaterThan(0);
    expect(emu.faults.calls('gcp', 'disks.aggregatedList')).toBe(12 + injected);
  });

  it('fails 5xx answers as CloudUnavailableError after a few attempts, never as a throttle', async () => {
    emu.faults.add({ cloud: 'gcp', operation: 'networks.list', kind: 'server-error', status: 503 });
    const err = await listAll(await open(), NETWORKS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudUnavailableError);
    expect(err).not.toBeInstanceOf(CloudThrottledError);
    expect(emu.faults.calls('gcp', 'networks.list')).toBe(3);
  });

  it('bounds every call by the timeout, so a hanging API cannot stall a sync', async () => {
    emu.faults.add({ cloud: 'gcp', operation: 'regions.list', kind: 'latency', latencyMs: 1500, count: 3 });
    const started = Date.now();
    await expect((await open({ options: { timeoutMs: 200 } })).health.probe()).rejects.toThrow(/^Could not reach the credential's endpoint$/); // a tenant's endpoint: no timing details
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('refuses an unusable key file, and an unknown project, with CloudAuthError', async () => {
    const g = emu.credentials.gcp;
    await expect((await open({ secret: { serviceAccountJson: '{"type":"service_account"}', projectId: g.projectId } })).health.probe())
      .rejects.toThrow(/service account JSON is not usable/);
    const elsewhere = await open({ secret: { serviceAccountJson: JSON.stringify(g.serviceAccountKey), projectId: 'someone-else' } });
    await expect(listAll(elsewhere, INSTANCES)).rejects.toThrow(/Check the credential's projectId/);
  });

  it('probes health with the regions list: ok, slow as the caller measures it, throttled then ok', async () => {
    const cloud = await open();
    await cloud.health.probe();
    expect(emu.faults.calls('gcp', 'regions.list')).toBe(1);
    emu.faults.add({ cloud: 'gcp', operation: 'regions.list', kind: 'latency', latencyMs: 400 });
    const started = Date.now();
    await cloud.health.probe();
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    emu.faults.clear();
    emu.faults.add({ cloud: 'gcp', operation: 'regions.list', kind: 'throttle', count: 1 });
    await cloud.health.probe();
    expect(emu.faults.calls('gcp', 'regions.list')).toBe(4);
  });

  // Last: the emulator has one service account.
  it('answers a disabled service account with CloudAuthError, from lists and from the probe', async () => {
    const cloud = await open();
    await cloud.health.probe();
    emu.revoke(emu.credentials.gcp.serviceAccountKey.client_email);
    await expect(cloud.health.probe()).rejects.toBeInstanceOf(CloudAuthError);
    await expect(listAll(cloud, INSTANCES)).rejects.toThrow(/UNAUTHENTICATED|code 16/);
    expect(emu.faults.calls('gcp', 'instances.aggregatedList')).toBe(1);
  });
});
