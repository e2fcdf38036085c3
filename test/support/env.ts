/** Where tests find the machine's services; each run gets its own databases and Redis key prefix. */
export const BASE_DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/**
 * SKYLOFT_ALLOWED_ENDPOINTS of every installation the tests start (createTestContext, the e2e and bench processes):
 * the emulator's loopback hosts, on any port (host patterns, not origins, because its ports are picked at random).
 */
export const TEST_ALLOWED_ENDPOINTS = '127.0.0.1,localhost,[::1]';

export function databaseUrl(name: string): string {
  const u = new URL(BASE_DATABASE_URL);
  u.pathname = `/${name}`;
  return u.toString();
}
