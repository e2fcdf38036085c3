import { describe, expect, it } from 'vitest';
import type { ApiBudget } from '../../src/clouds/budget.ts';
import { openCloud } from '../../src/clouds/index.ts';
import type { CostLine, ObservedItem, SandboxAccount, SandboxLedger, SandboxResource } from '../../src/clouds/ports.ts';
import { addDays, dayOf, sandboxBilled, sandboxCostPages, sandboxDailyCost } from '../../src/clouds/sandbox/cost.ts';
import { terraformDataObjects } from '../../src/clouds/sandbox/state.ts';
import { DECOYS, decoyId, orphanTag } from '../../src/clouds/sandbox/world.ts';
import { testOutbound } from './support.ts';

const CREDENTIAL = '0198c2d4-0000-7000-8000-000000000001';
const ACCOUNT = 'k3x7abcdefghi';
const TODAY = dayOf(new Date());
/** Any call to the budget fails the test: the sandbox calls no cloud. */
const budget = new Proxy({}, { get: () => { throw new Error('the sandbox must not call any cloud'); } }) as ApiBudget;

const vm = (resourceId: string, id: string, spec: Record<string, unknown>, over: Partial<SandboxResource> = {}): SandboxResource => ({
  resourceId,
  type: 'vm',
  region: 'local',
  createdAt: new Date(`${addDays(TODAY, -2)}T10:00:00Z`),
  destroyedAt: null,
  objects: [{ id, input: { kind: 'vm', name: `vm-${id}`, region: 'eu-lab', spec, tags: { 'skyloft-resource-id': resourceId, 'skyloft-account-id': ACCOUNT } } }],
  live: true,
  ...over,
});

function ledgerOf(resources: SandboxResource[], credentialId = CREDENTIAL): { ledger: SandboxLedger; reads: string[] } {
  const reads: string[] = [];
  const account: SandboxAccount = { accountId: ACCOUNT, registeredAt: new Date(`${addDays(TODAY, -1)}T08:00:00Z`), resources };
  return { reads, ledger: { read: async (id) => (reads.push(id), id === credentialId ? account : Promise.reject(new Error('another credential'))) } };
}

async function open(resources: SandboxResource[], credentialId = CREDENTIAL) {
  const { ledger, reads } = ledgerOf(resources, credentialId);
  return { cloud: await openCloud({ provider: 'sandbox', credentialId, secret: {} }, { budget, outbound: testOutbound, sandbox: ledger }), reads };
}

async function listed(cloud: Awaited<ReturnType<typeof open>>['cloud']): Promise<ObservedItem[]> {
  const items: ObservedItem[] = [];
  for (const scope of await cloud.inventory.scopes()) for await (const page of cloud.inventory.list(scope)) items.push(...page);
  return items;
}

async function collected(cloud: Awaited<ReturnType<typeof open>>['cloud'], from: string, to: string): Promise<CostLine[]> {
  const lines: CostLine[] = [];
  const progress = { paidRequest: () => { throw new Error('the sandbox bills no request'); }, notice: () => {} };
  for await (const page of cloud.cost.collect({ from, to }, progress)) lines.push(...page);
  return lines;
}

describe('the sandbox adapter', () => {
  it('has one global scope per kind, is always healthy, and calls no cloud', async () => {
    const { cloud } = await open([]);
    expect(await cloud.inventory.scopes()).toEqual([
      { region: 'global', kind: 'sandbox:vm' },
      { region: 'global', kind: 'sandbox:storage' },
      { region: 'global', kind: 'sandbox:network' },
    ]);
    await expect(cloud.health.probe()).resolves.toBeUndefined();
  });

  it('lists what its resources hold as terraform applied it, plus unmanaged and orphaned objects of its own', async () => {
    const first = vm('11111111-1111-4111-8111-111111111111', 'tf-first', { size: 'small', cpu: 2, nested: { skipped: true } });
    const second = vm('22222222-2222-4222-8222-222222222222', 'tf-second', { size: 'small' }, { createdAt: new Date(`${TODAY}T01:00:00Z`) });
    const destroyed = vm('33333333-3333-4333-8333-333333333333', 'tf-gone', { size: 'small' }, { live: false, destroyedAt: new Date() });
    const { cloud, reads } = await open([first, second, destroyed]);
    const items = await listed(cloud);
    expect(reads).toEqual([CREDENTIAL]); // one read per opened cloud (one job), only of its own credential

    const managed = items.filter((i) => i.tags['skyloft-resource-id'] && !i.externalId.startsWith('sbx-'));
    expect(managed.map((i) => i.externalId)).toEqual(['tf-first', 'tf-second']); // the destroyed one is gone
    // The oldest vm with a size is the sandbox's drift example: resized behind Skyloft's back.
    expect(managed[0]).toEqual({
      externalId: 'tf-first', name: 'vm-tf-first', type: 'vm', status: 'running', region: 'eu-lab',
      tags: { 'skyloft-resource-id': first.resourceId, 'skyloft-account-id': ACCOUNT },
      metadata: { spec: { size: 'small', cpu: 2 }, size: 'large', outOfBand: 'resized from small to large outside Skyloft (the sandbox\'s example of drift)' },
    });
    expect(managed[1]!.metadata).toEqual({ spec: { size: 'small' }, size: 'small' });

    const decoys = items.filter((i) => i.externalId.startsWith('sbx-'));
    expect(decoys.map((i) => i.name).sort()).toEqual(DECOYS.map((d) => d.name).sort());
    for (const d of DECOYS) {
      const item = decoys.find((i) => i.name === d.name)!;
      expect(item).toMatchObject({ externalId: decoyId(CREDENTIAL, d), type: d.type, status: d.status, region: 'local' });
      expect(item.tags['skyloft-resource-id']).toBe(d.orphan ? orphanTag(CREDENTIAL, d) : undefined);
    }
    expect(decoys.filter((i) => i.tags['skyloft-resource-id']).map((i) => i.tags['skyloft-account-id'])).toEqual([ACCOUNT, ACCOUNT]);
  });

  it('gives every credential objects of its own, the same at every listing', async () => {
    const ids = async (credentialId: string) => (await listed((await open([], credentialId)).cloud)).map((i) => i.externalId);
    const other = '0198c2d4-0000-7000-8000-000000000002';
    expect(await ids(CREDENTIAL)).toEqual(await ids(CREDENTIAL));
    const mine = new Set(await ids(CREDENTIAL));
    expect((await ids(other)).some((id) => mine.has(id))).toBe(false);
    expect(decoyId(CREDENTIAL, DECOYS[0]!)).toBe('sbx-vm-3364253e0937');
    expect(orphanTag(CREDENTIAL, DECOYS[4]!)).toBe('d5d17906-feca-42dd-8bac-02264b5a826f');
  });

  it('prices a day from the object id and the date alone', () => {
    expect(sandboxDailyCost('vm', '4c68c880-3233-1f2f-467b-553e330be0c9', '2026-03-01')).toBe('0.8019');
    expect(sandboxDailyCost('vm', '4c68c880-3233-1f2f-467b-553e330be0c9', '2026-03-02')).toBe('0.9801');
    expect(sandboxDailyCost('storage', 'x', '2026-03-01')).toBe('0.2158');
    expect(sandboxDailyCost('network', 'x', '2026-03-01')).toBe('0.0917');
    expect(sandboxDailyCost('support', 'support:c', '2026-03-01')).toBe('0.2962');
  });

  it('bills every object for every day it existed, today included, and nothing after today', async () => {
    const live = vm('11111111-1111-4111-8111-111111111111', 'tf-live', { size: 'small' });
    const gone = vm('33333333-3333-4333-8333-333333333333', 'tf-gone', {}, { live: false, destroyedAt: new Date(`${addDays(TODAY, -1)}T12:00:00Z`) });
    const neverApplied = vm('44444444-4444-4444-8444-444444444444', 'tf-never', {}, { live: false, objects: [] });
    const { cloud } = await open([live, gone, neverApplied]);
    const from = addDays(TODAY, -5);
    const lines = await collected(cloud, from, addDays(TODAY, 1));
    const days = (resourceId: string | null) => lines.filter((l) => l.resourceId === resourceId).map((l) => l.date);
    expect(days('tf-live')).toEqual([addDays(TODAY, -2), addDays(TODAY, -1), TODAY]);
    expect(days('tf-gone')).toEqual([addDays(TODAY, -2), addDays(TODAY, -1)]);
    expect(days('tf-never')).toEqual([]);
    for (const l of lines.filter((x) => x.resourceId === 'tf-live')) {
      expect(l).toEqual({ date: l.date, service: 'Sandbox Compute', resourceId: 'tf-live', billingAccount: 'sandbox', currency: 'USD', amount: sandboxDailyCost('vm', 'tf-live', l.date) });
    }
    // The decoys exist from before the credential was registered; support is billed to no resource.
    expect(days(null)).toHaveLength(6);
    expect(new Set(lines.filter((l) => l.resourceId === null).map((l) => l.service))).toEqual(new Set(['Sandbox Support']));
    const stopped = DECOYS.find((d) => d.status === 'stopped')!;
    expect(lines.find((l) => l.resourceId === decoyId(CREDENTIAL, stopped) && l.date === TODAY)!.amount).toBe(sandboxDailyCost('storage', decoyId(CREDENTIAL, stopped), TODAY));
    expect(lines.every((l) => l.date >= from && l.date <= TODAY)).toBe(true);
    // The same range again: the same lines to the last digit.
    expect(await collected((await open([live, gone, neverApplied])).cloud, from, addDays(TODAY, 1))).toEqual(lines);
  });

  it('bills an id once, whatever a hand-written state repeats', () => {
    const twin = vm('55555555-5555-4555-8555-555555555555', 'tf-live', {});
    const account: SandboxAccount = { accountId: ACCOUNT, registeredAt: new Date(), resources: [vm('11111111-1111-4111-8111-111111111111', 'tf-live', {}), twin] };
    const lines = [...sandboxCostPages(sandboxBilled(CREDENTIAL, account, TODAY), { from: TODAY, to: addDays(TODAY, 1) }, TODAY)].flat();
    expect(lines.filter((l) => l.resourceId === 'tf-live')).toHaveLength(1);
  });

  it('reads terraform_data objects from a real state and skips anything else a state may hold', () => {
    const state = {
      version: 4,
      resources: [
        { mode: 'managed', type: 'terraform_data', name: 'vm', instances: [{ attributes: { id: '4c68c880-3233-1f2f-467b-553e330be0c9', input: { value: { kind: 'vm', spec: { size: 'small' } }, type: ['object', {}] } } }] },
        { mode: 'data', type: 'terraform_data', name: 'd', instances: [{ attributes: { id: 'data-source' } }] },
        { mode: 'managed', type: 'aws_instance', name: 'other', instances: [{ attributes: { id: 'i-1' } }] },
        { mode: 'managed', type: 'terraform_data', name: 'odd', instances: [{ attributes: { id: 42 } }, null, { attributes: { id: 'no-input' } }] },
      ],
    };
    expect(terraformDataObjects(state)).toEqual([
      { id: '4c68c880-3233-1f2f-467b-553e330be0c9', input: { kind: 'vm', spec: { size: 'small' } } },
      { id: 'no-input', input: {} },
    ]);
    for (const junk of [null, 'x', [], { resources: 'no' }, { resources: [null, 1] }]) expect(terraformDataObjects(junk)).toEqual([]);
  });

  it('refuses to open without the ledger, and refuses a provider it has no adapter for', async () => {
    await expect(openCloud({ provider: 'sandbox', credentialId: 'c', secret: {} }, { budget, outbound: testOutbound })).rejects.toThrow(/needs the ledger/);
    await expect(openCloud({ provider: 'oracle' as never, credentialId: 'c', secret: {} }, { budget: {} as ApiBudget, outbound: testOutbound })).rejects.toThrow(/No cloud adapter for provider 'oracle'/);
  });
});
