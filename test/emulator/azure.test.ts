import { request } from 'node:https';
import { ComputeManagementClient, type VirtualMachine } from '@azure/arm-compute';
import { NetworkManagementClient } from '@azure/arm-network';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { azureClientOptions, azureCredential } from './clients.ts';
import { startEmulator, type Emulator } from './emulator.ts';

let emu: Emulator;

beforeAll(async () => {
  emu = await startEmulator({ seed: 7, azure: { pageSize: 7, counts: { virtualMachines: { eastus: 12, westeurope: 9, southeastasia: 0 }, disks: 10, virtualNetworks: 4 } } });
});
afterAll(() => emu.close());

const compute = (options = {}) => new ComputeManagementClient(azureCredential(emu), emu.credentials.azure.subscriptionId, { ...azureClientOptions(emu), ...options });
const network = () => new NetworkManagementClient(azureCredential(emu), emu.credentials.azure.subscriptionId, azureClientOptions(emu));

async function collect<T>(pages: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of pages) out.push(item);
  return out;
}

/** GET on the Azure origin with a token from the credential, for routes the installed SDKs have no client for. */
async function armGet(path: string): Promise<{ status: number; body: any }> {
  const token = await azureCredential(emu).getToken('https://management.azure.com/.default');
  return new Promise((ok, fail) => {
    const req = request(`${emu.urls.azure}${path}`, { ca: emu.urls.caCert, headers: { authorization: `Bearer ${token.token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => ok({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', fail).end();
  });
}

describe('Azure through @azure/identity, @azure/arm-compute 25 and @azure/arm-network', () => {
  it('gets a token with ClientSecretCredential from the emulator authority over TLS', async () => {
    const token = await azureCredential(emu).getToken('https://management.azure.com/.default');
    expect(token.token.split('.')).toHaveLength(3);
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now());
  });

  it('follows nextLink through every page of virtualMachines.listAll and parses the flattened model', async () => {
    emu.faults.resetCalls();
    const vms: VirtualMachine[] = await collect(compute().virtualMachines.listAll());
    expect(vms).toHaveLength(21);
    expect(emu.faults.calls('azure', 'virtualMachines.list')).toBe(3);
    expect(new Set(vms.map((vm) => vm.id)).size).toBe(21);
    const vm = vms[0]!;
    expect(vm.id).toMatch(/^\/subscriptions\/[^/]+\/resourceGroups\/rg-eastus\/providers\/Microsoft\.Compute\/virtualMachines\/vm-/);
    expect(vm.location).toBe('eastus');
    expect(vm.hardwareProfile?.vmSize).toMatch(/^Standard_/);
    expect(vm.storageProfile?.osDisk?.managedDisk?.id).toContain('/disks/');
    expect(vm.provisioningState).toBe('Succeeded');
    expect(vm.timeCreated).toBeInstanceOf(Date);
    expect(vm.tags).toMatchObject({ env: expect.any(String), team: expect.any(String) });
    expect(vm.instanceView).toBeUndefined();
  });

  it('adds the power state with statusOnly=true and lists one resource group', async () => {
    const vms = await collect(compute().virtualMachines.listAll({ statusOnly: 'true' }));
    const power = vms[0]!.instanceView?.statuses?.find((s) => s.code?.startsWith('PowerState/'));
    expect(power?.code).toMatch(/^PowerState\/(running|deallocated|stopped|starting)$/);
    const inGroup = await collect(compute().virtualMachines.list('rg-westeurope'));
    expect(inGroup).toHaveLength(9);
    expect(inGroup.every((vm) => vm.location === 'westeurope')).toBe(true);
  });

  it('lists disks and virtual networks over several pages', async () => {
    const disks = await collect(compute().disks.list());
    expect(disks).toHaveLength(30);
    expect(disks[0]).toMatchObject({ sku: { name: expect.any(String) }, diskSizeGB: expect.any(Number), diskState: expect.stringMatching(/^(Attached|Unattached)$/) });
    expect(disks.some((d) => d.managedBy?.includes('/virtualMachines/'))).toBe(true);
    emu.faults.resetCalls();
    const vnets = await collect(network().virtualNetworks.listAll());
    expect(vnets).toHaveLength(12);
    expect(emu.faults.calls('azure', 'virtualNetworks.list')).toBe(2);
    expect(vnets[0]?.addressSpace?.addressPrefixes?.[0]).toMatch(/^10\./);
    expect(vnets[0]?.subnets?.length).toBe(2);
  });

  it('answers subscriptions/{sub}/locations and requires api-version', async () => {
    const sub = emu.credentials.azure.subscriptionId;
    const locations = await armGet(`/subscriptions/${sub}/locations?api-version=2022-12-01`);
    expect(locations.status).toBe(200);
    expect(locations.body.value.map((l: { name: string }) => l.name)).toEqual(['eastus', 'westeurope', 'southeastasia']);
    const missing = await armGet(`/subscriptions/${sub}/locations`);
    expect(missing).toMatchObject({ status: 400, body: { error: { code: 'MissingApiVersionParameter' } } });
  });

  it('fails a wrong client secret as @azure/identity does against Entra ID, and an unknown subscription with RestError 404', async () => {
    // MSAL's ServerError reaches callers as AuthenticationRequiredError, the AADSTS code in its message.
    await expect(azureCredential(emu, 'wrong').getToken('https://management.azure.com/.default'))
      .rejects.toMatchObject({ name: 'AuthenticationRequiredError', message: expect.stringMatching(/invalid_client.*AADSTS7000215/s) });
    const other = new ComputeManagementClient(azureCredential(emu), '00000000-0000-4000-8000-000000000000', azureClientOptions(emu));
    await expect(collect(other.disks.list())).rejects.toMatchObject({ name: 'RestError', statusCode: 404, code: 'SubscriptionNotFound' });
  });
});
