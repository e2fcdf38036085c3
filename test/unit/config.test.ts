import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_TERRAFORM_UID_BASE, loadConfig, TERRAFORM_UID_SPAN } from '../../src/config/index.ts';

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

  it('reads the master key from SKYLOFT_MASTER_KEY_FILE, trimmed and checked like SKYLOFT_MASTER_KEY', () => {
    const dir = mkdtempSync(join(tmpdir(), 'skyloft-config-'));
    try {
      const key = randomBytes(32).toString('base64');
      const file = join(dir, 'master.key');
      writeFileSync(file, `  ${key}\n`, { mode: 0o600 });
      const db = { DATABASE_URL: 'postgres://db/skyloft' };
      expect(loadConfig({ ...db, SKYLOFT_MASTER_KEY_FILE: file }).masterKey).toBe(key);
      expect(loadConfig({ SKYLOFT_MASTER_KEY_FILE: file }).masterKey).toBe(key); // local mode uses it too

      const problems = (env: NodeJS.ProcessEnv) => {
        try {
          loadConfig(env);
        } catch (e) {
          expect(e).toBeInstanceOf(ConfigError);
          return (e as ConfigError).problems;
        }
        throw new Error('loadConfig accepted it');
      };
      expect(problems({ ...db, SKYLOFT_MASTER_KEY: key, SKYLOFT_MASTER_KEY_FILE: file })).toEqual([
        'SKYLOFT_MASTER_KEY_FILE: set either SKYLOFT_MASTER_KEY or SKYLOFT_MASTER_KEY_FILE, not both',
      ]);
      // Unreadable: reported with every other bad variable in the one error, and the key still counts as missing.
      const missing = join(dir, 'missing.key');
      const listed = problems({ ...db, PORT: 'eighty', SKYLOFT_MASTER_KEY_FILE: missing });
      expect(listed).toHaveLength(2);
      expect(listed.join('\n')).toContain('PORT');
      expect(listed.join('\n')).toContain(`SKYLOFT_MASTER_KEY_FILE: cannot read "${missing}" (ENOENT)`);
      expect(problems({ SKYLOFT_MASTER_KEY_FILE: dir })[0]).toMatch(/^SKYLOFT_MASTER_KEY_FILE: cannot read .*EISDIR/);

      const short = join(dir, 'short.key');
      const weak = randomBytes(16).toString('base64');
      writeFileSync(short, weak);
      const [problem] = problems({ ...db, SKYLOFT_MASTER_KEY_FILE: short });
      expect(problem).toMatch(/^SKYLOFT_MASTER_KEY_FILE: the content of ".*short\.key" must be base64 of exactly 32 bytes/);
      expect(problem).not.toContain(weak); // the file's content is never echoed
      expect(() => loadConfig(db)).toThrow(/SKYLOFT_MASTER_KEY: required .*SKYLOFT_MASTER_KEY_FILE/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes the range of uids terraform runs under from SKYLOFT_TERRAFORM_UID_BASE', () => {
    expect(loadConfig({}).terraform.uidBase).toBe(DEFAULT_TERRAFORM_UID_BASE);
    expect(loadConfig({ SKYLOFT_TERRAFORM_UID_BASE: '3000000' }).terraform.uidBase).toBe(3_000_000);
    for (const bad of ['0', '999', '300000', 'many', String(2 ** 31 - TERRAFORM_UID_SPAN + 1)]) {
      expect(() => loadConfig({ SKYLOFT_TERRAFORM_UID_BASE: bad })).toThrow(/SKYLOFT_TERRAFORM_UID_BASE/);
    }
    expect(loadConfig({ SKYLOFT_TERRAFORM_UID_BASE: String(2 ** 31 - TERRAFORM_UID_SPAN) }).terraform.uidBase).toBe(
      2 ** 31 - TERRAFORM_UID_SPAN,
    );
  });

  it('parses roles and durations into real types', () => {
    const c = loadConfig({ SKYLOFT_ROLES: 'worker, api', SKYLOFT_USER_LOCK_TTL: '30m' });
    expect(c.roles).toEqual(['worker', 'api']);
    expect(c.userLockTtlMs).toBe(30 * 60_000);
  });
});
