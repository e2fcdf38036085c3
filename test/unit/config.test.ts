import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

describe('configuration', () => {
  it('has working defaults for local mode', () => {
    const c = loadConfig({});
    expect(c.http).toEqual({ port: 8080, host: '127.0.0.1', rateLimitPerMinute: 600, headersTimeoutMs: 20_000, requestTimeoutMs: 120_000 });
    expect(c.redis.url).toBe('redis://127.0.0.1:6379');
    expect(c.roles).toEqual(['api', 'worker', 'scheduler']);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.userLockTtlMs).toBe(2 * 3_600_000);
    expect(c.stateMaxBytes).toBe(64 * 1024 * 1024);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('lists every bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', SKYLOFT_ROLES: 'api,cook', SKYLOFT_MASTER_KEY: 'short', REDIS_URL: 'http://x', SKYLOFT_RATE_LIMIT: '-1' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of ['PORT', 'SKYLOFT_ROLES', 'SKYLOFT_MASTER_KEY', 'REDIS_URL', 'SKYLOFT_RATE_LIMIT']) expect(message).toContain(name);
  });

  it('requires a master key whenever DATABASE_URL is set', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://db/skyloft' })).toThrow(/SKYLOFT_MASTER_KEY: required/);
    const key = randomBytes(32).toString('base64');
    expect(loadConfig({ DATABASE_URL: 'postgres://db/skyloft', SKYLOFT_MASTER_KEY: key }).masterKey).toBe(key);
  });

  it('parses roles and durations into real types', () => {
    const c = loadConfig({ SKYLOFT_ROLES: 'worker, api', SKYLOFT_USER_LOCK_TTL: '30m' });
    expect(c.roles).toEqual(['worker', 'api']);
    expect(c.userLockTtlMs).toBe(30 * 60_000);
  });
});
