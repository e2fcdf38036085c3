import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ObservedItem } from '../../src/clouds/ports.ts';
import { contentHash } from '../../src/modules/inventory/store.ts';

/** The definition every stored content_hash was made with: a different one would mark every row changed once. */
const storedHash = (i: ObservedItem) =>
  createHash('sha1').update(JSON.stringify([i.name, i.type, i.status, i.metadata, i.tags])).digest('hex');

describe('inventory content hash', () => {
  const items: ObservedItem[] = [
    { externalId: 'i-1', name: 'web "1"', type: 'vm', status: 'running', tags: { Name: 'web "1"', 'skyloft-resource-id': 'x' },
      metadata: { instanceType: 't3.micro', volumeIds: ['vol-1', 'vol-2'], nested: { a: null, b: 1.5, c: 'é\n\\' } } },
    { externalId: 'vpc-1', name: null, type: 'network', status: 'available', tags: {}, metadata: {} },
  ];

  it('matches the hash of earlier versions, from the JSON the upsert sends', () => {
    for (const i of items) expect(contentHash(i, JSON.stringify(i.metadata), JSON.stringify(i.tags))).toBe(storedHash(i));
  });

  it('changes when any hashed field changes', () => {
    const [i] = items as [ObservedItem];
    const base = contentHash(i, JSON.stringify(i.metadata), JSON.stringify(i.tags));
    const changed = [{ ...i, name: 'web 2' }, { ...i, status: 'stopped' }, { ...i, metadata: { ...i.metadata, instanceType: 'm5.large' } }, { ...i, tags: {} }];
    for (const c of changed) expect(contentHash(c, JSON.stringify(c.metadata), JSON.stringify(c.tags))).not.toBe(base);
  });
});
