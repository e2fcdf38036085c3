import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InventoryType, ObservedItem } from '../../src/clouds/ports.ts';
import { upsertPage } from '../../src/modules/inventory/store.ts';
import { newId } from '../../src/shared/ids.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';

/** GET /v1/inventory's `state`: one word across clouds and types beside each cloud's own `status`. */
let ctx: TestContext;
let headers: Record<string, string>;

const item = (externalId: string, type: InventoryType, status: string): ObservedItem => ({ externalId, name: externalId, type, status, metadata: {}, tags: {} });

beforeAll(async () => {
  ctx = await createTestContext();
  const { accountId, apiKey } = await ctx.bootstrap();
  headers = bearer(apiKey);
  const credential = (await ctx.app.inject({ method: 'POST', url: '/v1/credentials', headers, payload: { name: 'aws', provider: 'aws', secret: { accessKeyId: 'AKIA1', secretAccessKey: 'x' } } })).json();
  const scope = (provider: string, kind: string) => ({ accountId, credentialId: credential.id, provider, region: 'r1', kind, runId: newId() });
  // Stored as each adapter reports them (the store keeps `status` verbatim).
  await upsertPage(ctx.orm.em.fork(), scope('aws', 'ec2:instance'), [item('i-run', 'vm', 'running'), item('i-stopping', 'vm', 'stopping')]);
  await upsertPage(ctx.orm.em.fork(), scope('aws', 'ec2:volume'), [item('vol-used', 'storage', 'in-use'), item('vol-new', 'storage', 'creating'), item('vol-bad', 'storage', 'error')]);
  await upsertPage(ctx.orm.em.fork(), scope('azure', 'network:vnet'), [item('vnet-ok', 'network', 'Succeeded'), item('vnet-going', 'network', 'Deleting')]);
  await upsertPage(ctx.orm.em.fork(), scope('gcp', 'compute:disk'), [item('disk-ready', 'storage', 'READY')]);
});
afterAll(() => ctx.close());

const list = async (query = '') => {
  const res = await ctx.app.inject({ url: `/v1/inventory?limit=500${query}`, headers });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().items as { externalId: string; status: string; state: string }[];
};

describe('inventory state', () => {
  it('stands beside the cloud\'s own status on every item', async () => {
    const byId = Object.fromEntries((await list()).map((i) => [i.externalId, [i.status, i.state]]));
    expect(byId).toEqual({
      'i-run': ['running', 'running'],
      'i-stopping': ['stopping', 'stopped'],
      'vol-used': ['in-use', 'available'],
      'vol-new': ['creating', 'pending'],
      'vol-bad': ['error', 'unknown'],
      'vnet-ok': ['Succeeded', 'available'],
      'vnet-going': ['Deleting', 'deleting'],
      'disk-ready': ['READY', 'available'],
    });
  });

  it('filters by state (unknown: whatever reads as no other state)', async () => {
    const ids = async (state: string) => (await list(`&state=${state}`)).map((i) => i.externalId).sort();
    expect(await ids('available')).toEqual(['disk-ready', 'vnet-ok', 'vol-used']);
    expect(await ids('pending')).toEqual(['vol-new']);
    expect(await ids('deleting')).toEqual(['vnet-going']);
    expect(await ids('unknown')).toEqual(['vol-bad']);
    expect(await ids('terminated')).toEqual([]);
    expect((await list('&state=available&provider=gcp')).map((i) => i.externalId)).toEqual(['disk-ready']);
  });

  it('refuses a state that is not one of the seven words (400)', async () => {
    const res = await ctx.app.inject({ url: '/v1/inventory?state=READY', headers });
    expect(res.statusCode).toBe(400);
    expect(JSON.stringify(res.json().error.details)).toContain('state');
  });
});
