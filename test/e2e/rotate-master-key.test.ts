import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyRing } from '../../src/shared/vault.ts';
import { REDIS_URL } from '../support/env.ts';
import { cliJson, email, freePort, freshDatabase, killAll, masterKey, npm, query, redisPrefix, waitForOk } from '../support/process.ts';

const redis = redisPrefix();
afterAll(async () => {
  await killAll();
  await redis.drop();
});

interface Row {
  id: string;
  account_id: string;
  secret_key_id: string;
  secret_ciphertext: Buffer;
}

const aad = (r: Row) => `credential:${r.account_id}:${r.id}`;

describe('npm run cli -- rotate-master-key', () => {
  it('re-encrypts every credential secret under the new key, which alone opens them, and a second run has nothing to do', async () => {
    const db = await freshDatabase();
    const keyA = masterKey();
    const keyB = masterKey();
    const port = await freePort();
    const envA = { DATABASE_URL: db.url, REDIS_URL, SKYLOFT_REDIS_PREFIX: redis.prefix, SKYLOFT_MASTER_KEY: keyA, PORT: String(port) };

    // Key A: a server, an account, three credentials with secrets.
    const server = npm(['start'], envA);
    await waitForOk(server, `http://127.0.0.1:${port}/readyz`, 45_000);
    const boot = await cliJson(['bootstrap', '--email', email()], envA);
    expect(boot.exit.code, boot.exit.stderr).toBe(0);
    const secrets = new Map<string, Record<string, string>>();
    for (let i = 0; i < 3; i++) {
      const secret = { accessKeyId: `AKIAE2E${i}`, secretAccessKey: randomBytes(30).toString('base64') };
      const res = await fetch(`http://127.0.0.1:${port}/v1/credentials`, {
        method: 'POST',
        headers: { authorization: `Bearer ${boot.json.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `aws-${i}`, provider: 'aws', region: 'us-east-1', secret }),
      });
      expect(res.status, await res.clone().text()).toBe(201);
      secrets.set((await res.json()).id, secret);
    }
    expect((await server.terminate()).code, server.describe()).toBe(0);

    const ringA = new KeyRing([keyA]);
    const ringB = new KeyRing([keyB]);
    const rows = () => query<Row>(db.url, 'select id, account_id, secret_key_id, secret_ciphertext from credentials order by id');
    const before = await rows();
    expect(before.map((r) => r.id).sort()).toEqual([...secrets.keys()].sort());
    expect(before.every((r) => r.secret_key_id === ringA.currentKeyId)).toBe(true);

    // Rotate: B is the new key, A the one being rotated out.
    const envRotate = { ...envA, PORT: undefined, SKYLOFT_MASTER_KEY: keyB, SKYLOFT_MASTER_KEY_PREVIOUS: keyA };
    const first = await cliJson(['rotate-master-key'], envRotate);
    expect(first.exit.code, first.exit.stderr).toBe(0);
    expect(first.exit.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(first.json.reencrypted.credentials).toBe(3);

    const after = await rows();
    expect(after).toHaveLength(3);
    for (const row of after) {
      const old = before.find((r) => r.id === row.id)!;
      expect(row.secret_key_id).not.toBe(old.secret_key_id);
      expect(row.secret_key_id).toBe(ringB.currentKeyId);
      expect(Buffer.compare(row.secret_ciphertext, old.secret_ciphertext)).not.toBe(0);
      expect(KeyRing.keyIdOf(row.secret_ciphertext)).toBe(ringB.currentKeyId);
      // B alone opens it, to the very secret that was posted; A no longer does.
      expect(JSON.parse(ringB.open(row.secret_ciphertext, aad(row)).toString('utf8'))).toEqual(secrets.get(row.id));
      expect(() => ringA.open(row.secret_ciphertext, aad(row))).toThrow();
      // Still bound to its row.
      expect(() => ringB.open(row.secret_ciphertext, `credential:${row.account_id}:${after.find((r) => r.id !== row.id)!.id}`)).toThrow();
    }

    const second = await cliJson(['rotate-master-key'], envRotate);
    expect(second.exit.code, second.exit.stderr).toBe(0);
    expect(second.json.reencrypted.credentials).toBe(0);
    const unchanged = await rows();
    expect(unchanged.map((r) => r.secret_ciphertext.toString('hex'))).toEqual(after.map((r) => r.secret_ciphertext.toString('hex')));
  }, 120_000);

  it('refuses to rotate when a secret is sealed under a key it was not given, changing nothing', async () => {
    const db = await freshDatabase();
    const keyA = masterKey();
    const port = await freePort();
    const envA = { DATABASE_URL: db.url, REDIS_URL, SKYLOFT_REDIS_PREFIX: redis.prefix, SKYLOFT_MASTER_KEY: keyA, PORT: String(port) };
    const server = npm(['start'], envA);
    await waitForOk(server, `http://127.0.0.1:${port}/readyz`, 45_000);
    const boot = await cliJson(['bootstrap', '--email', email()], envA);
    const res = await fetch(`http://127.0.0.1:${port}/v1/credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${boot.json.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'aws', provider: 'aws', secret: { accessKeyId: 'AKIAE2E', secretAccessKey: 'x'.repeat(40) } }),
    });
    expect(res.status).toBe(201);
    expect((await server.terminate()).code).toBe(0);
    const before = await query<Row>(db.url, 'select id, account_id, secret_key_id, secret_ciphertext from credentials');

    // SKYLOFT_MASTER_KEY_PREVIOUS forgotten: the old secret cannot be opened.
    const rotate = await cliJson(['rotate-master-key'], { ...envA, PORT: undefined, SKYLOFT_MASTER_KEY: masterKey() });
    expect(rotate.exit.code).not.toBe(0);
    expect(rotate.json.error).toMatch(/SKYLOFT_MASTER_KEY_PREVIOUS/);
    const after = await query<Row>(db.url, 'select id, account_id, secret_key_id, secret_ciphertext from credentials');
    expect(after.map((r) => [r.secret_key_id, r.secret_ciphertext.toString('hex')])).toEqual(before.map((r) => [r.secret_key_id, r.secret_ciphertext.toString('hex')]));
  }, 120_000);
});
