import { createHash, randomBytes } from 'node:crypto';

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const KEY_RE = /^sky_[A-Za-z0-9]{36}$/;

/** `prefix` + 36 uniformly random base62 characters (about 214 bits). Shown once, stored only as a hash. */
export function generateKey(prefix: string): string {
  const length = prefix.length + 36;
  let out = prefix;
  while (out.length < length) {
    for (const b of randomBytes(48)) {
      // 248 = 4 * 62: rejecting bytes above it keeps every character equally likely.
      if (b < 248 && out.length < length) out += BASE62[b % 62];
    }
  }
  return out;
}

/** An account's API key: `sky_` + 36 base62 characters. */
export const generateApiKey = (): string => generateKey('sky_');

export const isWellFormedApiKey = (key: string): boolean => KEY_RE.test(key);

export const hashApiKey = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

/** What lists show to tell keys apart: `sky_` and the next 8 characters. */
export const displayPrefix = (key: string): string => key.slice(0, 12);
