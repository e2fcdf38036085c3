import { createHash } from 'node:crypto';

/**
 * The sandbox's randomness: everything it makes up (ids, rates, a day's cost) is a hash of ids and dates, so the
 * same credential always sees the same objects and the same day always costs the same, in every process.
 */
export function digest(...parts: string[]): Buffer {
  return createHash('sha256').update(parts.join('\u0000')).digest();
}

/** A whole number in [min, max] from `parts`. */
export function between(min: number, max: number, ...parts: string[]): number {
  return min + (digest(...parts).readUInt32BE(0) % (max - min + 1));
}

/** A UUID-shaped id (version 4 layout) from `parts`: what a Skyloft tag holds. */
export function uuidFrom(...parts: string[]): string {
  const b = digest(...parts).subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
