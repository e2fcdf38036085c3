import { ConnectionException } from '@mikro-orm/core';

/** Socket errors and PostgreSQL's "cannot connect now" / "admin shutdown" / connection-failure SQLSTATEs. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', '57P01', '57P03', '08000', '08001', '08003', '08006']);

/**
 * Whether an error means PostgreSQL could not be reached (answer 503), not that a query was wrong: MikroORM wraps
 * some as ConnectionException, the pg driver's raw socket errors arrive as they are.
 */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof ConnectionException || (typeof code === 'string' && CONNECTION_CODES.has(code));
}
