import { DisksClient } from '@google-cloud/compute/build/src/v1/disks_client.js';
import { InstancesClient } from '@google-cloud/compute/build/src/v1/instances_client.js';
import { NetworksClient } from '@google-cloud/compute/build/src/v1/networks_client.js';
import { RegionsClient } from '@google-cloud/compute/build/src/v1/regions_client.js';
import { JWT } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gcpAuthClient, gcpClientOptions } from './clients.ts';
import { startEmulator, type Emulator } from './emulator.ts';

// Deep imports: the package root loads every Compute client (about 2 s and 250 MB).
let emu: Emulator;
let project: string;
/** A broken token fetch would otherwise be retried silently for ten minutes. */
const call = { timeout: 10_000, autoPaginate: false };

beforeAll(async () => {
  emu = await startEmulator({ seed: 3, gcp: { counts: { instances: { 'us-central1-a': 30, 'europe-west1-b': 5 }, disks: 4, networks: 12 } } });
  project = emu.credentials.gcp.projectId;
});
afterAll(() => emu.close());

async function aggregated<T>(pages: AsyncIterable<[string, T]>): Promise<Array<[string, T]>> {
  const out: Array<[string, T]> = [];
  for await (const entry of pages) out.push(entry);
  return out;
}

describe('Compute Engine through @google-cloud/compute 7', () => {
  it('pages instances.aggregatedList with maxResults/pageToken in the zones/<zone> shape', async () => {
    emu.faults.resetCalls();
    const client = new InstancesClient(gcpClientOptions(emu));
    const entries = await aggregated(client.aggregatedListAsync({ project, maxResults: 10 }, call));
    const instances = entries.flatMap(([, list]) => list.instances ?? []);
    expect(instances).toHaveLength(35);
    expect(new Set(instances.map((i) => i.id)).size).toBe(35);
    expect(emu.faults.calls('gcp', 'instances.aggregatedList')).toBe(4);
    expect(emu.faults.calls('gcp', 'token')).toBe(1);
    // Zones with nothing on a page come back as a warning, as GCE does.
    expect(entries.some(([scope, list]) => scope === 'zones/us-central1-b' && list.warning?.code === 'NO_RESULTS_ON_PAGE')).toBe(true);
    const [scope, list] = entries.find(([, l]) => (l.instances?.length ?? 0) > 0)!;
    expect(scope).toBe('zones/us-central1-a');
    const vm = list.instances![0]!;
    expect(vm.name).toMatch(/^vm-/);
    expect(vm.id).toMatch(/^\d{19}$/);
    expect(vm.status).toMatch(/^(RUNNING|TERMINATED|SUSPENDED|STAGING)$/);
    expect(vm.machineType).toMatch(/\/zones\/us-central1-a\/machineTypes\//);
    expect(vm.labels).toMatchObject({ env: expect.any(String), team: expect.any(String) });
    expect(vm.disks?.[0]?.diskSizeGb).toBeTruthy();
    expect(vm.networkInterfaces?.[0]?.networkIP).toMatch(/^10\./);
    expect(vm.creationTimestamp).toBeTruthy();
  });

  it('lists disks (aggregated), networks over pages and regions', async () => {
    const disks = (await aggregated(new DisksClient(gcpClientOptions(emu)).aggregatedListAsync({ project, maxResults: 5 }, call)))
      .flatMap(([, l]) => l.disks ?? []);
    expect(disks).toHaveLength(16);
    expect(disks[0]).toMatchObject({ name: expect.stringMatching(/^disk-/), sizeGb: expect.anything(), status: expect.any(String), type: expect.stringContaining('/diskTypes/') });
    const networks = [];
    for await (const n of new NetworksClient(gcpClientOptions(emu)).listAsync({ project, maxResults: 5 }, call)) networks.push(n);
    expect(networks).toHaveLength(12);
    expect(networks[0]).toMatchObject({ autoCreateSubnetworks: true, selfLink: expect.stringContaining('/global/networks/') });
    const [regions] = await new RegionsClient(gcpClientOptions(emu)).list({ project }, call);
    expect(regions.map((r) => r.name)).toEqual(['us-central1', 'europe-west1', 'asia-east1']);
    expect(regions[0]?.status).toBe('UP');
  });

  it('accepts self-signed JWTs (useJWTAccessWithScope) without any token request', async () => {
    const key = emu.credentials.gcp.serviceAccountKey;
    const authClient = new JWT({ email: key.client_email, key: key.private_key, keyId: key.private_key_id, scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
    authClient.useJWTAccessWithScope = true;
    emu.faults.resetCalls();
    const [regions] = await new RegionsClient(gcpClientOptions(emu, authClient)).list({ project }, call);
    expect(regions).toHaveLength(3);
    expect(emu.faults.calls('gcp', 'token')).toBe(0);
  });

  it('answers an unknown project with NOT_FOUND (code 5)', async () => {
    await expect(new RegionsClient(gcpClientOptions(emu)).list({ project: 'someone-else' }, call)).rejects.toMatchObject({ code: 5 });
  });

  it('refuses a revoked service account: the token request fails, and its tokens stop working (code 16)', async () => {
    const authClient = gcpAuthClient(emu);
    const client = new RegionsClient(gcpClientOptions(emu, authClient));
    await client.list({ project }, call);
    expect(emu.revoke(emu.credentials.gcp.serviceAccountKey.client_email)).toBe(true);
    await expect(client.list({ project }, call)).rejects.toMatchObject({ code: 16 });
    await expect(gcpAuthClient(emu).getAccessToken()).rejects.toThrow(/invalid_grant/);
  });
});
