/** What a secret becomes in terraform's output. */
export const REDACTED = '[redacted]';

/** Shorter "secrets" are ignored: redacting "abc" or "1" everywhere would shred the log and hide nothing. */
export const MIN_SECRET_LENGTH = 4;

/** A line longer than this without a newline is emitted in pieces (bounds memory), still never cutting a secret. */
const MAX_PENDING = 64 * 1024;

export interface Redactor {
  /** Redacts a complete text. */
  redact(text: string): string;
  /** A line buffer for one output stream: a secret split across chunks is still caught. Use one per stream. */
  stream(): RedactingStream;
}

export interface RedactingStream {
  /** Takes a chunk; returns the redacted text that is now safe to emit (whole lines), possibly ''. */
  write(chunk: string): string;
  /** Returns whatever is still held back, redacted. */
  end(): string;
}

/**
 * Replaces every occurrence of each secret with [redacted]: the secret itself, each line of a multi-line secret (a
 * PEM key or a service account JSON is printed line by line), and its base64 forms at every byte alignment (so a
 * password inside `Authorization: Basic base64(user:password)` is caught too).
 */
export function createRedactor(secrets: readonly string[]): Redactor {
  const needles = needlesFor(secrets);
  const longest = needles[0]?.length ?? 0;
  const pattern = needles.length === 0 ? undefined : new RegExp(needles.map(escapeRegExp).join('|'), 'g');
  const redact = (text: string) => (pattern === undefined ? text : text.replace(pattern, REDACTED));

  /** Where `pending` can be cut without splitting a secret that may continue in the next chunk. */
  const safeCut = (pending: string): number => {
    if (pattern === undefined) return pending.length;
    const cut = Math.max(0, pending.length - (longest - 1));
    for (const m of pending.matchAll(pattern)) {
      if (m.index >= cut) break;
      if (m.index + m[0].length > cut) return m.index;
    }
    return cut;
  };

  return {
    redact,
    stream() {
      let pending = '';
      return {
        write(chunk) {
          pending += chunk;
          const nl = pending.lastIndexOf('\n');
          let out = '';
          if (nl >= 0) {
            out = redact(pending.slice(0, nl + 1));
            pending = pending.slice(nl + 1);
          }
          if (pending.length > MAX_PENDING) {
            const cut = safeCut(pending);
            out += redact(pending.slice(0, cut));
            pending = pending.slice(cut);
          }
          return out;
        },
        end() {
          const out = redact(pending);
          pending = '';
          return out;
        },
      };
    },
  };
}

/** Every string to look for, longest first so that a longer secret wins over a shorter one it contains. */
function needlesFor(secrets: readonly string[]): string[] {
  const found = new Set<string>();
  const add = (s: string) => {
    if (s.length >= MIN_SECRET_LENGTH) found.add(s);
  };
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    add(secret);
    if (/[\r\n]/.test(secret)) for (const line of secret.split(/\r?\n/)) add(line.trim());
    for (const b64 of base64Forms(secret)) {
      add(b64);
      add(b64.replaceAll('+', '-').replaceAll('/', '_'));
    }
  }
  return [...found].sort((a, b) => b.length - a.length);
}

/**
 * The base64 text that encodes `secret` wherever it sits in a longer value: for each of the three byte offsets, the
 * characters determined by the secret's bytes alone (dropping those that mix in neighbouring bytes, and padding).
 */
export function base64Forms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const forms: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    const start = Math.ceil((offset * 8) / 6);
    const end = Math.floor(((offset + bytes.length) * 8) / 6);
    forms.push(encoded.slice(start, end));
  }
  return forms;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
