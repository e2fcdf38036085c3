import { ValidationError } from './errors.ts';
import { isUuid } from './ids.ts';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

export interface PageRequest {
  limit?: number;
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Cursors are opaque to clients: base64url of the last id seen (ids are time-ordered UUIDv7s). */
export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isUuid(id)) throw new ValidationError('cursor is not one this API returned', [{ path: 'cursor', message: 'invalid' }]);
  return id;
}

/**
 * Newest-first keyset paging: `where` narrowed to ids below the cursor, one extra row fetched to know whether
 * a next page exists.
 */
export async function keysetPage<T extends { id: string }>(
  req: PageRequest,
  fetch: (idBelow: string | undefined, take: number) => Promise<T[]>,
): Promise<Page<T>> {
  const limit = req.limit ?? DEFAULT_LIMIT;
  const rows = await fetch(req.cursor ? decodeCursor(req.cursor) : undefined, limit + 1);
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
}
