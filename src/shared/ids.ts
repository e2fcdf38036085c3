import { randomBytes, randomFillSync } from 'node:crypto';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** 13 lowercase base32 characters = 65 random bits: an account's opaque, non-guessable business id. */
export function newAccountId(): string {
  const bytes = randomBytes(13);
  let out = '';
  for (const b of bytes) out += BASE32[b & 31];
  return out;
}

/**
 * A UUIDv7 (time-ordered, RFC 9562) made in the application, since PostgreSQL 15 has no uuidv7().
 * Time order keeps primary-key indexes compact and gives lists a stable newest-first order; within one
 * millisecond the 12-bit rand_a field is a counter (RFC 9562 method 1), so ids of one process never tie.
 */
let lastMs = -1;
// One randomBytes call per 256 ids instead of one each: a sync makes an id per item, and a call costs microseconds.
const pool = Buffer.alloc(16 * 256);
let poolOffset = pool.length;
function random16(): Buffer {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  poolOffset += 16;
  return pool.subarray(poolOffset - 16, poolOffset);
}

let seq = 0;
export function newId(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    seq = randomBytes(2).readUInt16BE() & 0x7ff; // start in the lower half to leave room to count
  } else {
    now = lastMs;
    seq += 1;
    if (seq > 0xfff) {
      lastMs += 1;
      now = lastMs;
      seq = 0;
    }
  }
  const b = random16();
  b.writeUIntBE(now, 0, 6);
  b[6] = 0x70 | (seq >> 8);
  b[7] = seq & 0xff;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const isUuid = (v: string): boolean => UUID_RE.test(v);
