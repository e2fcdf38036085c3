import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ProviderDescriptor } from '../../src/clouds/descriptor.ts';
import { kindIds, providerIds, providerOf, registerProvider } from '../../src/clouds/registry.ts';
import { validateSpec } from '../../src/modules/provisioning/specs.ts';

/** Issue 20: the registry is the one list of providers and kinds; a kind is one entry of a provider's descriptor. */
const descriptor = (id: string, kinds: ProviderDescriptor['kinds']): ProviderDescriptor => ({
  id,
  secret: () => z.strictObject({}),
  kinds,
  terraformEnv: () => ({ env: {}, stack: {} }),
  open: async () => {
    throw new Error('not opened here');
  },
});

describe('the provider registry', () => {
  it('lists the built-in providers and kinds the contract names, in its order', () => {
    expect(providerIds()).toEqual(['aws', 'azure', 'gcp', 'sandbox']);
    expect(kindIds()).toEqual(['vm', 'storage', 'network']);
  });

  it('takes a new kind as one entry of a descriptor: the kind list and spec validation follow', () => {
    registerProvider(descriptor('dnsonly', { zone: { spec: z.strictObject({ domain: z.string().min(3) }) } }));
    expect(kindIds()).toEqual(['vm', 'storage', 'network', 'zone']);
    expect(validateSpec('dnsonly', 'zone', { domain: 'example.com' })).toEqual({ domain: 'example.com' });
    expect(() => validateSpec('dnsonly', 'zone', { domain: 'x' })).toThrow(/Invalid dnsonly zone spec: spec.domain/);
    expect(() => validateSpec('dnsonly', 'vm', {})).toThrow(/dnsonly provisions no vm/);
    expect(() => validateSpec('aws', 'zone', {})).toThrow(/aws provisions no zone/);
    // Not a kind at all: an inherited property name is no kind either.
    expect(() => validateSpec('aws', 'constructor', {})).toThrow(/aws provisions no constructor/);
  });

  it('refuses a duplicate or malformed id and drift keys that are not plain field names (the drift SQL is generated)', () => {
    expect(() => registerProvider(descriptor('aws', {}))).toThrow(/already registered/);
    expect(() => registerProvider(descriptor('Bad-Id', {}))).toThrow(/lower-case/);
    expect(() => registerProvider(descriptor('sneaky', { vm: { spec: z.strictObject({}), drift: { spec: ["size') or true --"], observed: ['size'] } } }))).toThrow(/plain field names/);
    expect(providerIds()).not.toContain('sneaky');
    expect(() => providerOf('nope')).toThrow(/No provider 'nope'/);
  });
});
