import { describe, expect, it } from 'vitest';
import { displayPrefix, generateApiKey, hashApiKey, isWellFormedApiKey } from '../../src/modules/accounts/keys.ts';
import { newAccountId, newId } from '../../src/shared/ids.ts';

describe('API keys', () => {
  it('are sky_ plus 36 base62 characters, all different', () => {
    const keys = new Set(Array.from({ length: 1000 }, generateApiKey));
    expect(keys.size).toBe(1000);
    for (const k of keys) expect(k).toMatch(/^sky_[A-Za-z0-9]{36}$/);
  });

  it('are stored as a SHA-256 hash and a short display prefix', () => {
    const key = generateApiKey();
    expect(hashApiKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey(key)).toBe(hashApiKey(key));
    expect(hashApiKey(key)).not.toBe(hashApiKey(generateApiKey()));
    expect(displayPrefix(key)).toBe(key.slice(0, 12));
  });

  it('recognise malformed keys', () => {
    expect(isWellFormedApiKey('sky_short')).toBe(false);
    expect(isWellFormedApiKey(`key_${'a'.repeat(36)}`)).toBe(false);
    expect(isWellFormedApiKey(`sky_${'a'.repeat(35)}!`)).toBe(false);
  });
});

describe('ids', () => {
  it('make account ids of 13 base32 characters', () => {
    for (let i = 0; i < 100; i++) expect(newAccountId()).toMatch(/^[a-z2-7]{13}$/);
  });

  it('make time-ordered UUIDv7 ids', () => {
    const a = newId(1_000);
    const b = newId(2_000);
    expect(a < b).toBe(true);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('ids made in one millisecond', () => {
  it('still sort in creation order', () => {
    const ids = Array.from({ length: 5000 }, () => newId(1_700_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('carry 62 fresh random bits each, across refills of the random pool', () => {
    const tails = Array.from({ length: 5000 }, () => newId(1_700_000_000_000).slice(19).replace('-', ''));
    expect(new Set(tails).size).toBe(tails.length);
    // Every hex digit of the tail appears in every position: the bits are random, not a pool read twice or zeros.
    for (let pos = 1; pos < 16; pos++) expect(new Set(tails.map((t) => t[pos])).size).toBe(16);
  });
});
