import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openCloud, type CloudInput, type OpenedCloud } from '../../src/clouds/index.ts';
import { CloudAuthError, CloudThrottledError, CloudUnavailableError, type Scope } from '../../src/clouds/ports.ts';
import { startEmulator, type Emulator } from '../emulator/emulator.ts';
import { listAll, testBudget, testOutbound } from './support.ts';

const { budget, start: startBudget, stop: stopBudget } = testBudget();
let emu: Emulator;

beforeAll(async () => {
  await startBudget();
  emu = await startEmulator({
    seed: 22,
    managedShare: 0.3,
    azure: {
      pageSize: 7,
      counts: { virtualMachines: { eastus: 12, westeurope: 9, southeastasia: 4 }, disks: { eastus: 30, westeurope: 20, southeastasia: 13 }, virtualNetworks: 3 },
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
  const { authorityHost, ...secret } = emu.credentials.azure;
  return openCloud(
    { provider: 'azure', credentialId: randomUUID(), endpoints: { api: emu.urls.azure, authorityHost }, secret, ...overrides },
    { budget, outbound: testOutbound, tls: { ca: emu.urls.caCert } },
  );
}


/** The emulator's items of a kind by ARM resource name. */
function seeded(kind: string) {
  return new Map(emu.fleet.page(emu.fleet.scopes('azure', kind), undefined, 10_000).items.map((i) => [i.id, i]));
}

const POWER: Record<string, string> = { running: 'running', deallocated: 'stopped', stopped: 'stopped', starting: 'pending' };
const VMS: Scope = { region: 'global', kind: 'compute:virtualMachine' };
const DISKS: Scope = { region: 'global', kind: 'compute:disk' };
const VNETS: Scope = { region: 'global', kind: 'network:virtualNetwork' };

describe('the Azure adapter against the emulator', () => {
  it('has one subscription-wide scope per kind, since ARM lists each kind in one chain across locations', async () => {
    expect(await (await open()).inventory.scopes()).toEqual([VMS, DISKS, VNETS]);
  });

  it('follows nextLink through every VM page with the power state, tags and essentials', async () => {
    const items = await listAll(await open(), VMS);
    const fleet = seeded('virtualMachines');
    expect(items).toHaveLength(25);
    expect(emu.faults.calls('azure', 'virtualMachines.list')).toBe(4);
    expect(new Set(items.map((i) => i.name))).toEqual(new Set(fleet.keys()));
    for (const item of items) {
      const f = fleet.get(item.name!)!;
      expect(item.externalId).toBe(`/subscriptions/${emu.credentials.azure.subscriptionId}/resourceGroups/rg-${f.scope.region}/providers/Microsoft.Compute/virtualMachines/${f.id}`);
      expect(item).toMatchObject({ type: 'vm', status: POWER[f.state], tags: f.tags });
      expect(item.metadata).toMatchObject({ location: f.scope.region, vmSize: f.type, zones: [f.zone], resourceGroup: `rg-${f.scope.region}`, timeCreated: f.createdAt.toISOString() });
    }
    expect(items.filter((i) => i.tags['skyloft-resource-id']).length).toBeGreaterThan(0);
    expect(new Set(items.map((i) => i.status))).toEqual(new Set(['running', 'stopped', 'pending']));
  });

  it('lists disks and virtual networks over their pages', async () => {
    const cloud = await open();
    const disks = await listAll(cloud, DISKS);
    const fleet = seeded('disks');
    expect(disks).toHaveLength(63);
    expect(emu.faults.calls('azure', 'disks.list')).toBe(9);
    for (const d of disks) {
      const f = fleet.get(d.name!)!;
      expect(d).toMatchObject({ type: 'storage', status: f.state, tags: f.tags, metadata: { sizeGb: f.sizeGb, sku: f.type, location: f.scope.region } });
    }
    expect(disks.some((d) => String(d.metadata.managedBy).includes('/virtualMachines/'))).toBe(true);
    const vnets = await listAll(cloud, VNETS);
    expect(vnets).toHaveLength(9);
    expect(emu.faults.calls('azure', 'virtualNetworks.list')).toBe(2);
    expect(vnets[0]).toMatchObject({ type: 'network', status: 'Succeeded', metadata: { addressPrefixes: ['10.0.0.0/16'], subnets: [{ name: 'default' }, { name: 'workloads' }] } });
  });

  it('keeps only the configured locations when the credential lists some', async () => {
    const items = await listAll(await open({ regions: ['West Europe', 'southeastasia'] }), VMS);
    expect(items).toHaveLength(13);
    expect(new Set(items.map((i) => i.metadata.location))).toEqual(new Set(['westeurope', 'southeastasia']));
  });

  it('completes a listing under 30% throttling (429 + Retry-After) through the budget', async () => {
    emu.faults.add({ cloud: 'azure', operation: 'disks.list', kind: 'throttle', probability: 0.3, retryAfterSeconds: 1 });
    const started = Date.now();
    expect(await listAll(await open(), DISKS)).toHaveLength(63);
    const injected = emu.faults.list()[0]!.injected;
    expect(injected).toBeGreaterThan(0);
    expect(emu.faults.calls('azure', 'disks.list')).toBe(9 + injected);
    // The budget waited out Retry-After before each retry.
    expect(Date.now() - started).toBeGreaterThanOrEqual(injected * 950);
  });

  it('fails 5xx answers as CloudUnavailableError after a few attempts, never as a throttle', async () => {
    emu.faults.add({ cloud: 'azure', operation: 'virtualNetworks.list', kind: 'server-error' });
    const err = await listAll(await open(), VNETS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudUnavailableError);
    expect(err).not.toBeInstanceOf(CloudThrottledError);
    expect((err as Error).message).toMatch(/InternalServerError \(HTTP 500\)/);
    expect(emu.faults.calls('azure', 'virtualNetworks.list')).toBe(3);
  });

  it('retries a token endpoint that is busy or failing as transient, not as a bad secret', async () => {
    emu.faults.add({ cloud: 'azure', operation: 'token', kind: 'server-error' });
    const err = await (await open()).health.probe().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudUnavailableError);
    expect((err as Error).message).toMatch(/AADSTS90033/);
    emu.faults.clear();
    emu.faults.add({ cloud: 'azure', operation: 'token', kind: 'server-error', count: 2 });
    emu.faults.add({ cloud: 'azure', operation: 'openid-configuration', kind: 'throttle', count: 1, retryAfterSeconds: 0 });
    expect((await listAll(await open(), VNETS)).length).toBe(seeded('virtualNetworks').size);
  });

  it('fails an unknown tenant, which MSAL cannot tell from a busy authority, as unavailable with a hint naming the tenant id', async () => {
    const cloud = await open({ secret: { ...emu.credentials.azure, tenantId: randomUUID() } });
    const err = await cloud.health.probe().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudUnavailableError);
    expect((err as Error).message).toMatch(/check the tenant id/);
  });

  it('fails a page refused mid-listing, and a wrong secret, with CloudAuthError', async () => {
    emu.faults.add({ cloud: 'azure', operation: 'virtualMachines.list', kind: 'auth', everyNth: 2, count: 1 });
    await expect(listAll(await open(), VMS)).rejects.toThrow(/InvalidAuthenticationToken \(HTTP 401\)/);
    expect(emu.faults.calls('azure', 'virtualMachines.list')).toBe(2);
    const wrong = await open({ secret: { ...emu.credentials.azure, clientSecret: 'wrong' } });
    await expect(wrong.health.probe()).rejects.toThrow(/AADSTS7000215.*Check the client secret/);
  });

  it('probes health with one subscription-scoped page: ok, slow as the caller measures it, throttled then ok', async () => {
    const cloud = await open();
    await cloud.health.probe();
    expect(emu.faults.calls('azure', 'virtualNetworks.list')).toBe(1);
    emu.faults.add({ cloud: 'azure', operation: 'virtualNetworks.list', kind: 'latency', latencyMs: 400 });
    const started = Date.now();
    await cloud.health.probe();
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    emu.faults.clear();
    emu.faults.add({ cloud: 'azure', operation: 'virtualNetworks.list', kind: 'throttle', count: 1, retryAfterSeconds: 0 });
    await cloud.health.probe();
    expect(emu.faults.calls('azure', 'virtualNetworks.list')).toBe(4);
  });

  // Last: revoking the emulator's only app registration leaves the tenant without clients.
  it('answers a revoked app registration with CloudAuthError, for its live tokens and for new ones', async () => {
    const cloud = await open();
    await cloud.health.probe();
    emu.revoke(emu.credentials.azure.clientId);
    await expect(cloud.health.probe()).rejects.toBeInstanceOf(CloudAuthError);
    await expect(listAll(cloud, DISKS)).rejects.toBeInstanceOf(CloudAuthError);
    await expect((await open()).health.probe()).rejects.toBeInstanceOf(CloudAuthError);
  });
});
