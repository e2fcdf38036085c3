import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../emulator/emulator.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';
import { closeEmulated, startWorkersOnEmulator } from '../support/emulated-workers.ts';

/**
 * Inventory syncs of Azure and GCP credentials through the in-process worker against the emulator, and an AWS sync
 * under a throttling storm. The worker's openCloud gets no `tls` option, so the emulator's self-signed CA (Azure is
 * https) is trusted process-wide for the duration of this file.
 */
type Emulator = Awaited<ReturnType<typeof startEmulator>>;

const AZURE_LOCATIONS = ['eastus', 'westeurope'];
const GCP_ZONES = ['us-central1-a', 'europe-west1-b'];
const AWS_REGIONS = ['us-east-1', 'eu-west-1'];

let ctx: TestContext;
let emu: Emulator;
let stopWorkers: () => Promise<void>;
let key: string;
const credentialIds: Record<'aws' | 'azure' | 'gcp', string> = { aws: '', azure: '', gcp: '' };

beforeAll(async () => {
  ctx = await createTestContext();
  emu = await startEmulator({
    seed: 31,
    aws: { regions: AWS_REGIONS, counts: { instances: 1_100, volumes: 40, vpcs: 2, subnets: 4, securityGroups: 3, buckets: 3 } },
    // Page size 7: every Azure list walks several nextLink pages.
    azure: { locations: AZURE_LOCATIONS, pageSize: 7, counts: { virtualMachines: { eastus: 12, westeurope: 9 }, disks: 16, virtualNetworks: 2 } },
    gcp: { zones: GCP_ZONES, counts: { instances: { 'us-central1-a': 11, 'europe-west1-b': 6 }, disks: 14, networks: 3 } },
  });
  stopWorkers = await startWorkersOnEmulator(ctx, emu);
  key = (await ctx.bootstrap()).apiKey;

  const { authorityHost, ...azureSecret } = emu.credentials.azure;
  const bodies = {
    azure: { name: 'emulated-azure', provider: 'azure', endpoints: { api: emu.urls.azure, authorityHost }, secret: azureSecret },
    gcp: {
      name: 'emulated-gcp',
      provider: 'gcp',
      endpoints: { api: emu.urls.gcp },
      secret: { projectId: emu.credentials.gcp.projectId, serviceAccountJson: JSON.stringify(emu.credentials.gcp.serviceAccountKey) },
    },
    aws: {
      name: 'emulated-aws',
      provider: 'aws',
      region: 'us-east-1',
      endpoints: { api: emu.urls.aws },
      secret: { accessKeyId: emu.credentials.aws.accessKeyId, secretAccessKey: emu.credentials.aws.secretAccessKey },
    },
  };
  for (const provider of ['azure', 'gcp', 'aws'] as const) {
    const created = await call('POST', '/v1/credentials', bodies[provider]);
    expect(created.statusCode, created.body).toBe(201);
    credentialIds[provider] = created.json().id;
  }
}, 60_000);

afterAll(() => closeEmulated({ stopWorkers, emu, ctx }));

function call(method: string, url: string, body?: unknown) {
  return ctx.app.inject({ method: method as 'POST', url, headers: bearer(key), ...(body !== undefined && { payload: body as object }) });
}

async function syncAndWait(credentialId: string): Promise<Record<string, unknown>> {
  const res = await call('POST', '/v1/inventory/sync', { credentialId });
  expect(res.statusCode, res.body).toBe(202);
  const [runId] = res.json().runIds as string[];
  const deadline = Date.now() + 120_000;
  for (;;) {
    const run = (await call('GET', `/v1/inventory/runs/${runId}`)).json();
    if (run.status !== 'running') return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} still running: ${JSON.stringify(run)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

type Item = { externalId: string; name: string | null; type: string; region: string; deletedAt: string | null };

async function items(provider: string, query = ''): Promise<Item[]> {
  const all: Item[] = [];
  let cursor: string | null = null;
  do {
    const res = await call('GET', `/v1/inventory?provider=${provider}&limit=500${query}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.statusCode, res.body).toBe(200);
    const page: { items: Item[]; nextCursor: string | null } = res.json();
    all.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return all;
}

const countByType = (list: Item[]) => list.reduce<Record<string, number>>((acc, i) => ({ ...acc, [i.type]: (acc[i.type] ?? 0) + 1 }), {});

describe('an Azure inventory sync against the emulator (TLS trusted in-process)', () => {
  const seeded = () => ({
    vm: emu.fleet.count('azure', 'virtualMachines'),
    storage: emu.fleet.count('azure', 'disks'),
    network: emu.fleet.count('azure', 'virtualNetworks'),
  });

  it('succeeds and stores exactly the seeded VMs, disks and virtual networks, each in its own location', async () => {
    const run = await syncAndWait(credentialIds.azure);
    expect(run, JSON.stringify(run)).toMatchObject({ status: 'succeeded', deleted: 0, errors: [] });
    const stored = await items('azure');
    expect(countByType(stored)).toEqual(seeded());
    expect(seeded()).toEqual({ vm: 21, storage: 32, network: 4 });
    expect(new Set(stored.map((i) => i.externalId)).size).toBe(stored.length);
    for (const item of stored) expect(AZURE_LOCATIONS, `${item.externalId} in ${item.region}`).toContain(item.region);
    // Per-location counts: the VMs really landed in their own location, not all in one.
    expect(stored.filter((i) => i.type === 'vm' && i.region === 'eastus')).toHaveLength(12);
    expect(stored.filter((i) => i.type === 'vm' && i.region === 'westeurope')).toHaveLength(9);
  }, 150_000);

  it('tombstones a VM deleted in the emulator on the next sync', async () => {
    const [gone] = emu.fleet.ids('azure', 'virtualMachines', 'westeurope', 1);
    const before = (await items('azure')).find((i) => i.name === gone);
    expect(before, `no stored item named ${gone}`).toBeDefined();
    expect(emu.fleet.delete(gone!)).toBe(true);
    const run = await syncAndWait(credentialIds.azure);
    expect(run, JSON.stringify(run)).toMatchObject({ status: 'succeeded', added: 0, deleted: 1 });
    const live = await items('azure');
    expect(live.some((i) => i.externalId === before!.externalId)).toBe(false);
    expect(countByType(live)).toEqual(seeded());
    const tombstone = (await items('azure', '&include=deleted')).find((i) => i.externalId === before!.externalId);
    expect(tombstone?.deletedAt).toEqual(expect.any(String));
    expect(tombstone?.region).toBe('westeurope');
  }, 150_000);
});

describe('a GCP inventory sync against the emulator', () => {
  const regions = GCP_ZONES.map((z) => z.replace(/-[a-z]$/, ''));
  const seeded = () => ({
    vm: emu.fleet.count('gcp', 'instances'),
    storage: emu.fleet.count('gcp', 'disks'),
    network: emu.fleet.count('gcp', 'networks'),
  });

  it('succeeds and stores exactly the seeded instances, disks and networks, zonal ones in their region', async () => {
    const run = await syncAndWait(credentialIds.gcp);
    expect(run, JSON.stringify(run)).toMatchObject({ status: 'succeeded', deleted: 0, errors: [] });
    const stored = await items('gcp');
    expect(countByType(stored)).toEqual(seeded());
    expect(seeded()).toEqual({ vm: 17, storage: 28, network: 3 });
    expect(new Set(stored.map((i) => i.externalId)).size).toBe(stored.length);
    for (const item of stored) {
      // Networks are global objects in GCE; instances and disks live in a zone, stored under its region.
      if (item.type === 'network') expect(item.region).toBe('global');
      else expect(regions, `${item.type} ${item.externalId} in ${item.region}`).toContain(item.region);
    }
    expect(stored.filter((i) => i.type === 'vm' && i.region === 'us-central1')).toHaveLength(11);
    expect(stored.filter((i) => i.type === 'vm' && i.region === 'europe-west1')).toHaveLength(6);
  }, 150_000);

  it('tombstones an instance deleted in the emulator on the next sync', async () => {
    const [gone] = emu.fleet.ids('gcp', 'instances', 'europe-west1-b', 1);
    const before = (await items('gcp')).find((i) => i.name === gone);
    expect(before, `no stored item named ${gone}`).toBeDefined();
    expect(emu.fleet.delete(gone!)).toBe(true);
    const run = await syncAndWait(credentialIds.gcp);
    expect(run, JSON.stringify(run)).toMatchObject({ status: 'succeeded', added: 0, deleted: 1 });
    const live = await items('gcp');
    expect(live.some((i) => i.externalId === before!.externalId)).toBe(false);
    expect(countByType(live)).toEqual(seeded());
    const tombstone = (await items('gcp', '&include=deleted')).find((i) => i.externalId === before!.externalId);
    expect(tombstone?.deletedAt).toEqual(expect.any(String));
    expect(tombstone?.region).toBe('europe-west1');
  }, 150_000);
});

describe('an AWS sync under a 30% throttling storm', () => {
  /** Every AWS call the emulator counted (the per-operation counters, not the per-region ones). */
  const awsCalls = () => Object.entries(emu.faults.allCalls()).filter(([k]) => /^aws:[^:]+$/.test(k)).reduce((n, [, v]) => n + v, 0);
  const expected = () => ({
    vm: emu.fleet.count('aws', 'instances'),
    storage: emu.fleet.count('aws', 'volumes') + emu.fleet.count('aws', 'buckets'),
    network: emu.fleet.count('aws', 'vpcs') + emu.fleet.count('aws', 'subnets') + emu.fleet.count('aws', 'securityGroups'),
  });

  it('still ends succeeded with the exact item count, the throttled calls retried', async () => {
    // A clean sync first: how many calls one complete run needs.
    emu.faults.resetCalls();
    const clean = await syncAndWait(credentialIds.aws);
    expect(clean, JSON.stringify(clean)).toMatchObject({ status: 'succeeded', errors: [] });
    const cleanCalls = awsCalls();
    expect(countByType(await items('aws'))).toEqual(expected());

    emu.faults.resetCalls();
    const storm = emu.faults.add({ cloud: 'aws', kind: 'throttle', probability: 0.3 });
    let run: Record<string, unknown>;
    try {
      run = await syncAndWait(credentialIds.aws);
    } finally {
      emu.faults.clear(storm.id);
    }
    const injected = storm.injected; // the fault object the emulator counts on
    expect(run, JSON.stringify(run)).toMatchObject({ status: 'succeeded', errors: [], added: 0, deleted: 0 });
    const stored = await items('aws');
    expect(countByType(stored)).toEqual(expected());
    expect(stored).toHaveLength(2 * 1_100 + 2 * (40 + 3 + 2 + 4 + 3));
    expect(new Set(stored.map((i) => `${i.region}/${i.externalId}`)).size).toBe(stored.length);

    // The storm hit, and every throttled call was made again: besides the throttled answers, the counter saw at
    // least as many calls as the clean run needed.
    expect(injected).toBeGreaterThan(0);
    const stormCalls = awsCalls();
    expect(stormCalls, JSON.stringify(emu.faults.allCalls())).toBeGreaterThan(cleanCalls);
    expect(stormCalls - injected, JSON.stringify({ cleanCalls, injected, calls: emu.faults.allCalls() })).toBeGreaterThanOrEqual(cleanCalls);
  }, 240_000);
});
