import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TerraformOutput } from 'cdktf';
import type { Construct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ApiBudget } from '../../src/clouds/budget.ts';
import type { ObservedItem } from '../../src/clouds/ports.ts';
import type { ProviderDescriptor } from '../../src/clouds/descriptor.ts';
import { openCloud } from '../../src/clouds/index.ts';
import { providerIds, registerProvider } from '../../src/clouds/registry.ts';
import type { TestContext } from '../support/context.ts';
import { SkyloftStack, type StackConfig } from '../../stacks/common.ts';
import { registerStacks, synthesizeStack } from '../../stacks/index.ts';
import { sandboxResource } from '../../stacks/sandbox/common.ts';

/**
 * Issue 20: a provider is its descriptor and its stacks, registered in one line each. This file registers a small
 * fake provider, `tinycloud`, with one known kind (vm) and one kind no other provider has (queue), through the same
 * registry the built-in providers use, and edits no other file: its credential is created, its resources requested
 * with their specs validated, its stack synthesized, its cloud opened, all through the real API and code.
 */
let opened = 0;
/** What tinycloud's inventory lists: set by the test. */
let observed: ObservedItem[] = [];
const tinycloud: ProviderDescriptor = {
  id: 'tinycloud',
  secret: () => z.strictObject({ token: z.string().min(1) }),
  kinds: {
    vm: { spec: z.strictObject({ flavour: z.enum(['small', 'large']) }), drift: { spec: ['flavour'], observed: ['flavour'] } },
    queue: { spec: z.strictObject({ retentionDays: z.number().int().min(1).max(14) }) },
  },
  terraformEnv: (secret) => ({ env: { TINYCLOUD_TOKEN: String(secret.token) }, stack: {} }),
  open: async () => {
    opened += 1;
    return {
      inventory: { scopes: async () => [{ region: 'tiny-1', kind: 'tiny:vm' }], list: async function* () { yield observed; } },
      health: { probe: async () => {} },
      cost: { collect: async function* () {} },
    };
  },
};

class TinyStack extends SkyloftStack<StackConfig<{ [key: string]: string | number }>> {
  constructor(scope: Construct, id: string, input: StackConfig<{ [key: string]: string | number }>) {
    super(scope, id, input);
    new TerraformOutput(this, 'id', { value: sandboxResource(this, 'vm', this.config).id });
  }
}

registerProvider(tinycloud);
registerStacks('tinycloud', { providers: [], kinds: { vm: async () => TinyStack, queue: async () => TinyStack } });

/** Any call to the budget fails the test: the fake calls no cloud API. */
const noCalls = new Proxy({}, { get: () => { throw new Error('tinycloud calls no cloud API'); } }) as ApiBudget;

let ctx: TestContext;
let key: string;
let accountId: string;
const bearer = (k: string) => ({ authorization: `Bearer ${k}` });

beforeAll(async () => {
  // The app is built after the registration, as the registry's own lines run before anything reads it.
  const { createTestContext } = await import('../support/context.ts');
  ctx = await createTestContext();
  ({ apiKey: key, accountId } = await ctx.bootstrap());
}, 60_000);
afterAll(async () => {
  await ctx?.close();
});

describe('a provider added through the registry', () => {
  it('appears in the API contract beside the built-in ones, with its new kind', async () => {
    expect(providerIds()).toEqual(['aws', 'azure', 'gcp', 'sandbox', 'tinycloud']);
    const doc = JSON.stringify((await ctx.app.inject({ url: '/openapi.json' })).json());
    expect(doc).toContain('["aws","azure","gcp","sandbox","tinycloud"]');
    expect(doc).toContain('["vm","storage","network","queue"]');
  });

  it('takes a credential whose secret its schema validates, and opens its cloud', async () => {
    const post = (secret: unknown) => ctx.app.inject({ method: 'POST', url: '/v1/credentials', headers: bearer(key), payload: { name: `tiny-${Math.random()}`, provider: 'tinycloud', secret } });
    const refused = await post({ token: '' });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().error.details.map((d: { path: string }) => d.path)).toEqual(['secret.token']);
    expect((await post({ token: 't', extra: 1 })).statusCode).toBe(400);
    const created = await post({ token: 'tiny-secret-token' });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.body).not.toContain('tiny-secret-token');
    expect(created.json().provider).toBe('tinycloud');

    const cloud = await openCloud(
      { provider: 'tinycloud', credentialId: created.json().id, secret: { token: 't' } },
      { budget: noCalls, outbound: ctx.deps.outbound },
    );
    await cloud.health.probe();
    expect(opened).toBe(1);
  });

  it('takes resources of its kinds, old and new, with their specs validated, and refuses kinds it lacks', async () => {
    const credential = await ctx.app.inject({ method: 'POST', url: '/v1/credentials', headers: bearer(key), payload: { name: 'tiny-res', provider: 'tinycloud', secret: { token: 't' } } });
    const request = (name: string, type: string, spec: unknown) =>
      ctx.app.inject({ method: 'POST', url: '/v1/resources', headers: bearer(key), payload: { name, provider: 'tinycloud', type, region: 'tiny-1', credentialId: credential.json().id, spec } });
    const vm = await request('tiny-vm', 'vm', { flavour: 'small' });
    expect(vm.statusCode, vm.body).toBe(202);
    expect(vm.json().resource).toMatchObject({ provider: 'tinycloud', type: 'vm', spec: { flavour: 'small' } });
    const queue = await request('tiny-queue', 'queue', { retentionDays: 7 });
    expect(queue.statusCode, queue.body).toBe(202);
    expect((await request('tiny-bad', 'queue', { retentionDays: 99 })).statusCode).toBe(400);
    expect((await request('tiny-typo', 'vm', { flavor: 'small' })).statusCode).toBe(400);
    const lacking = await request('tiny-storage', 'storage', {});
    expect(lacking.statusCode).toBe(400);
    expect(lacking.json().error.message).toContain('tinycloud provisions no storage');
    // A built-in provider refuses the new kind the same way.
    expect((await ctx.app.inject({ method: 'POST', url: '/v1/resources', headers: bearer(key), payload: { name: 'aws-queue', provider: 'aws', type: 'queue', region: 'us-east-1', credentialId: credential.json().id, spec: {} } })).statusCode).toBe(422);
  });

  it('syncs its inventory and marks drift by its own drift keys (the drift SQL reads the registry)', async () => {
    const credential = (await ctx.app.inject({ method: 'POST', url: '/v1/credentials', headers: bearer(key), payload: { name: 'tiny-drift', provider: 'tinycloud', secret: { token: 't' } } })).json();
    const created = await ctx.app.inject({ method: 'POST', url: '/v1/resources', headers: bearer(key), payload: { name: 'tiny-drifter', provider: 'tinycloud', type: 'vm', region: 'tiny-1', credentialId: credential.id, spec: { flavour: 'small' } } });
    const resourceId = created.json().resource.id as string;
    const cloud = await openCloud({ provider: 'tinycloud', credentialId: credential.id, secret: { token: 't' } }, { budget: noCalls, outbound: ctx.deps.outbound });
    const syncWith = async (flavour: string) => {
      observed = [{ externalId: 'tiny-1', name: 'tiny-drifter', type: 'vm', status: 'running', metadata: { flavour }, tags: { 'skyloft-resource-id': resourceId } }];
      const em = ctx.orm.em.fork();
      const runId = await ctx.deps.sync.startOne(em, accountId, credential.id);
      const [scope] = await cloud.inventory.scopes();
      await ctx.deps.sync.syncScope(em, runId, scope!, cloud.inventory);
      await ctx.deps.sync.finish(em, runId);
      return (await ctx.app.inject({ url: `/v1/resources/${resourceId}`, headers: bearer(key) })).json().drift;
    };
    expect(await syncWith('large')).toBe('drifted');
    expect(await syncWith('small')).toBe('none');
  });

  it('synthesizes its stacks through stacks/index.ts', async () => {
    const outdir = mkdtempSync(join(tmpdir(), 'tinycloud-'));
    try {
      const { stackDir } = await synthesizeStack(
        { provider: 'tinycloud', type: 'queue', resourceId: '00000000-0000-4000-8000-000000000001', accountId: 'aaaaaaaaaaaaa', name: 'tiny-queue', region: 'tiny-1', spec: { retentionDays: 7 } },
        outdir,
      );
      const synthesized = JSON.parse(readFileSync(join(stackDir, 'cdk.tf.json'), 'utf8'));
      expect(Object.keys(synthesized.resource)).toEqual(['terraform_data']);
      expect(JSON.stringify(synthesized)).toContain('"retentionDays":7');
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
