import { describe, expect, it } from 'vitest';
import type { ApiBudget } from '../../src/clouds/budget.ts';
import { testOutbound } from './support.ts';
import { openCloud } from '../../src/clouds/index.ts';

describe('the sandbox adapter', () => {
  it('has no scopes, lists nothing and is always healthy, without touching the budget', async () => {
    const budget = new Proxy({}, { get: () => { throw new Error('the sandbox must not call any cloud'); } }) as ApiBudget;
    const cloud = await openCloud({ provider: 'sandbox', credentialId: 'c', secret: {} }, { budget, outbound: testOutbound });
    expect(await cloud.inventory.scopes()).toEqual([]);
    const pages = [];
    for await (const page of cloud.inventory.list({ region: 'global', kind: 'anything' })) pages.push(page);
    expect(pages).toEqual([]);
    await expect(cloud.health.probe()).resolves.toBeUndefined();
  });

  it('refuses a provider it has no adapter for', async () => {
    await expect(openCloud({ provider: 'oracle' as never, credentialId: 'c', secret: {} }, { budget: {} as ApiBudget, outbound: testOutbound })).rejects.toThrow(/No cloud adapter for provider 'oracle'/);
  });
});
