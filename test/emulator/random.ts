/**
 * Seeded, allocation-free randomness: every emulated resource is a pure function of (fleet seed, scope, index), so a
 * page can be generated on demand and a million-resource fleet needs no million objects.
 */

/** FNV-1a over the parts, then a murmur-style finalizer so neighbouring indexes land far apart. */
export function hash32(...parts: ReadonlyArray<string | number>): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    const s = String(part);
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    h ^= 0x7c; // separator, so ('ab', 'c') and ('a', 'bc') differ
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** hash32 for numbers only: no string conversion, for the per-item hot path. */
export function mix32(a: number, b: number, c = 0): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ b, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ c, 0x27d4eb2f);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A small deterministic generator (mulberry32) with the helpers the resource generators need. */
export class Draw {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Picks by weight: `weighted([['running', 8], ['stopped', 2]])`. */
  weighted<T>(choices: ReadonlyArray<readonly [T, number]>): T {
    const total = choices.reduce((sum, [, w]) => sum + w, 0);
    let roll = this.next() * total;
    for (const [value, weight] of choices) {
      roll -= weight;
      if (roll < 0) return value;
    }
    return choices[choices.length - 1]![0];
  }

  hex(length: number): string {
    let out = '';
    while (out.length < length) out += (this.int(0x10000) + 0x10000).toString(16).slice(1);
    return out.slice(0, length);
  }

  digits(length: number): string {
    let out = String(1 + this.int(9));
    while (out.length < length) out += String(this.int(10));
    return out;
  }

  uuid(): string {
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[this.int(4)]}${h.slice(17, 20)}-${h.slice(20)}`;
  }

  /** A date between `daysBack` days before `from` and `from`, at a whole second. */
  dateBefore(from: number, daysBack: number): Date {
    return new Date(Math.floor((from - this.next() * daysBack * 86_400_000) / 1000) * 1000);
  }
}

const HALF = 0x100000; // 20 bits

/**
 * A keyed bijection on [0, 2^40): a four-round Feistel network. AWS ids carry their index through it, so they look
 * as random as real ones (`i-0a3f...`) and still decode back to their index.
 */
export function permute40(n: number, key: number): number {
  let l = Math.floor(n / HALF);
  let r = n % HALF;
  for (let round = 0; round < 4; round++) [l, r] = [r, (l ^ mix32(key, round, r)) & (HALF - 1)];
  return l * HALF + r;
}

export function unpermute40(n: number, key: number): number {
  let l = Math.floor(n / HALF);
  let r = n % HALF;
  for (let round = 3; round >= 0; round--) [l, r] = [(r ^ mix32(key, round, l)) & (HALF - 1), l];
  return l * HALF + r;
}
