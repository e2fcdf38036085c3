import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KeyRing } from '../../src/shared/vault.ts';

const newKey = () => randomBytes(32).toString('base64');

describe('the vault', () => {
  it('opens what it sealed with the same associated data', () => {
    const ring = new KeyRing([newKey()]);
    const blob = ring.seal(Buffer.from('top secret'), 'credential:a:1');
    expect(blob.includes(Buffer.from('top secret'))).toBe(false);
    expect(ring.open(blob, 'credential:a:1').toString()).toBe('top secret');
  });

  it('refuses a ciphertext moved onto another row', () => {
    const ring = new KeyRing([newKey()]);
    const blob = ring.seal(Buffer.from('top secret'), 'credential:a:1');
    expect(() => ring.open(blob, 'credential:a:2')).toThrow(/failed authentication/);
    expect(() => ring.open(blob, 'credential:b:1')).toThrow(/failed authentication/);
  });

  it('refuses a tampered ciphertext', () => {
    const ring = new KeyRing([newKey()]);
    const blob = ring.seal(Buffer.from('top secret'), 'aad');
    blob[blob.length - 1]! ^= 1;
    expect(() => ring.open(blob, 'aad')).toThrow(/failed authentication/);
  });

  it('reads blobs sealed under the previous key while sealing under the newest', () => {
    const [oldKey, newKey_] = [newKey(), newKey()];
    const old = new KeyRing([oldKey]);
    const blob = old.seal(Buffer.from('x'), 'aad');
    const rotating = new KeyRing([newKey_, oldKey]);
    expect(rotating.open(blob, 'aad').toString()).toBe('x');
    const resealed = rotating.seal(Buffer.from('x'), 'aad');
    expect(KeyRing.keyIdOf(resealed)).toBe(rotating.currentKeyId);
    expect(KeyRing.keyIdOf(resealed)).not.toBe(old.currentKeyId);
    expect(() => old.open(resealed, 'aad')).toThrow(/not in SKYLOFT_MASTER_KEY/);
  });

  it('rejects a master key that is not 32 bytes', () => {
    expect(() => new KeyRing([randomBytes(16).toString('base64')])).toThrow(/32 bytes/);
  });
});
