import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObservedItem } from '../../src/clouds/ports.ts';
import { tombstoneUnseen, upsertPage, type ScopeRun } from '../../src/modules/inventory/store.ts';
import { newId } from '../../src/shared/ids.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';
import { insertResource } from '../support/resources.ts';

let ctx: TestContext;
let base: Omit<ScopeRun, 'runId'>;

beforeAll(async () => {
  ctx = await createTestContext();
  const { accountId, apiKey } = await ctx.bootstrap();
  const credential = await ctx.app.inject({ method: 'POST', url: '/v1/credentials', headers: bearer(apiKey), payload: { name: 'aws', provider: 'aws', secret: { accessKeyId: 'AKIA1', secretAccessKey: 'x' } } });
  base = { accountId, credentialId: credential.json().id, provider: 'aws', region: 'us-east-1', kind: 'ec2:instance' };
});
afterAll(() => ctx.close());

const vm = (id: string, status = 'running', tags: Record<string, string> = {}): ObservedItem => ({
  externalId: id,
  name: `name-${id}`,
  type: 'vm',
  status,
  metadata: { instanceType: 't3.micro' },
  tags,
});

async function rows() {
  return ctx.orm.em.fork().getConnection().execute<{ external_id: string; status: string; deleted_at: Date | null; first_seen_at: Date; managed_resource_id: string | null }[]>(
    'select external_id, status, deleted_at, first_seen_at, managed_resource_id from inventory_items where credential_id = ? order by external_id',
    [base.credentialId],
  );
}

describe('the inventory store', () => {
  it('adds, updates, tombstones only what a completed scope did not see, and revives what comes back', async () => {
    const run1 = { ...base, runId: newId() };
    const managedId = newId();
    expect(await upsertPage(ctx.orm.em.fork(), run1, [vm('i-1'), vm('i-2'), vm('i-3', 'running', { 'skyloft-resource-id': managedId }), vm('i-1')])).toEqual({ added: 3, updated: 0 });
    expect(await tombstoneUnseen(ctx.orm.em.fork(), run1)).toBe(0);
    const firstSeen = (await rows())[0]!.first_seen_at;
    expect((await rows())[2]!.managed_resource_id).toBe(managedId);

    const run2 = { ...base, runId: newId() };
    expect(await upsertPage(ctx.orm.em.fork(), run2, [vm('i-1'), vm('i-2', 'stopped')])).toEqual({ added: 0, updated: 1 });
    expect(await tombstoneUnseen(ctx.orm.em.fork(), run2)).toBe(1);
    const after2 = await rows();
    expect(after2.map((r) => [r.external_id, r.status, r.deleted_at !== null])).toEqual([
      ['i-1', 'running', false],
      ['i-2', 'stopped', false],
      ['i-3', 'running', true],
    ]);
    expect(after2[0]!.first_seen_at).toEqual(firstSeen);

    // A scope whose listing failed midway: its first page is stored, but nothing is tombstoned (no call).
    const run3 = { ...base, runId: newId() };
    expect(await upsertPage(ctx.orm.em.fork(), run3, [vm('i-3')])).toEqual({ added: 0, updated: 1 });
    const after3 = await rows();
    expect(after3.filter((r) => r.deleted_at === null).map((r) => r.external_id)).toEqual(['i-1', 'i-2', 'i-3']);
  });

  it('keeps other regions and kinds out of a scope\'s tombstones', async () => {
    const eu = { ...base, region: 'eu-west-1', runId: newId() };
    await upsertPage(ctx.orm.em.fork(), eu, [vm('i-eu')]);
    const usRun = { ...base, runId: newId() };
    await upsertPage(ctx.orm.em.fork(), usRun, [vm('i-1'), vm('i-2'), vm('i-3')]);
    expect(await tombstoneUnseen(ctx.orm.em.fork(), usRun)).toBe(0);
    expect((await rows()).find((r) => r.external_id === 'i-eu')!.deleted_at).toBeNull();
  });
});

describe('GET /v1/inventory', () => {
  it('classifies items as managed, orphaned or unmanaged, filters, hides tombstones unless asked, and pages', async () => {
    const owner = await ctx.bootstrap();
    const headers = bearer(owner.apiKey);
    const cred = (await ctx.app.inject({ method: 'POST', url: '/v1/credentials', headers, payload: { name: 'aws', provider: 'aws', secret: { accessKeyId: 'AKIA2', secretAccessKey: 'x' } } })).json();
    const live = await insertResource(ctx, owner.accountId, { credentialId: cred.id, provider: 'aws' });
    const scope = { accountId: owner.accountId, credentialId: cred.id, provider: 'aws', region: 'us-east-1', kind: 'ec2:instance', runId: newId() };
    await upsertPage(ctx.orm.em.fork(), scope, [
      vm('i-managed', 'running', { 'skyloft-resource-id': live.id }),
      vm('i-orphan', 'running', { 'skyloft-resource-id': newId() }),
      vm('i-plain', 'stopped'),
      vm('i-gone'),
    ]);
    const next = { ...scope, runId: newId() };
    await upsertPage(ctx.orm.em.fork(), next, [vm('i-managed', 'running', { 'skyloft-resource-id': live.id }), vm('i-orphan', 'running', { 'skyloft-resource-id': newId() }), vm('i-plain', 'stopped')]);
    await tombstoneUnseen(ctx.orm.em.fork(), next);

    const get = async (query: string) => (await ctx.app.inject({ url: `/v1/inventory${query}`, headers })).json();
    const all = await get('');
    expect(Object.fromEntries(all.items.map((i: { externalId: string; classification: string }) => [i.externalId, i.classification]))).toEqual({
      'i-managed': 'managed',
      'i-orphan': 'orphaned',
      'i-plain': 'unmanaged',
    });
    expect(all.items.find((i: { externalId: string }) => i.externalId === 'i-managed').resourceId).toBe(live.id);
    expect((await get('?managed=true')).items.map((i: { externalId: string }) => i.externalId)).toEqual(['i-managed']);
    expect((await get('?status=stopped')).items.map((i: { externalId: string }) => i.externalId)).toEqual(['i-plain']);
    const withDeleted = await get('?include=deleted');
    expect(withDeleted.items.find((i: { externalId: string }) => i.externalId === 'i-gone').deletedAt).not.toBeNull();

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const p: { items: { externalId: string }[]; nextCursor: string | null } = await get(`?include=deleted&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...p.items.map((i) => i.externalId));
      cursor = p.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(['i-gone', 'i-managed', 'i-orphan', 'i-plain']);

    const summary = (await ctx.app.inject({ url: '/v1/inventory/summary', headers })).json();
    expect(summary.counts).toEqual([
      { provider: 'aws', type: 'vm', status: 'running', count: 2 },
      { provider: 'aws', type: 'vm', status: 'stopped', count: 1 },
    ]);
    const other = await ctx.bootstrap();
    expect((await ctx.app.inject({ url: '/v1/inventory', headers: bearer(other.apiKey) })).json().items).toEqual([]);
  });
});

describe('scopes spanning regions', () => {
  it('store each item under its own region and tombstone across them when the global listing completed', async () => {
    const run1 = { ...base, kind: 'compute:virtualMachine', region: 'global', runId: newId() };
    await upsertPage(ctx.orm.em.fork(), run1, [{ ...vm('vm-a'), region: 'westeurope' }, { ...vm('vm-b'), region: 'eastus' }]);
    const regions = await ctx.orm.em.fork().getConnection().execute<{ region: string }[]>(
      "select region from inventory_items where kind = 'compute:virtualMachine' order by region",
    );
    expect(regions.map((r) => r.region)).toEqual(['eastus', 'westeurope']);
    const run2 = { ...run1, runId: newId() };
    await upsertPage(ctx.orm.em.fork(), run2, [{ ...vm('vm-a'), region: 'westeurope' }]);
    expect(await tombstoneUnseen(ctx.orm.em.fork(), run2)).toBe(1);
  });
});
