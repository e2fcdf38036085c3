import { ConnectionException } from '@mikro-orm/core';

/** Socket errors and PostgreSQL's "cannot connect now" / "admin shutdown" / connection-failure SQLSTATEs. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', '57P01', '57P03', '08000', '08001', '08003', '08006']);

/**
 * Whether an error means PostgreSQL could not be reached (answer 503), not that a query was wrong: MikroORM wraps
 * some as ConnectionException, the pg driver's raw socket errors arrive as they are.
 */
export function isConnectionError(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (e instanceof ConnectionException || (typeof code === 'string' && CONNECTION_CODES.has(code))) return true;
    if (typeof message === 'string' && CODELESS_MESSAGES.test(message)) return true;
  }
  return false;
}

/**
 * The pg driver's own errors for a connection lost mid-query carry no code: seen as a 500 on GET /v1/me while
 * PostgreSQL was shutting down (test/e2e/dependency-restarts.test.ts).
 */
const CODELESS_MESSAGES = /^(Connection terminated|Client has encountered a connection error and is not queryable|timeout exceeded when trying to connect)/;
