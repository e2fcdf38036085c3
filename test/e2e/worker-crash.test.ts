import { chmodSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_URL } from '../support/env.ts';
import { apiCaller, cliJson, email, freshDatabase, killAll, masterKey, redisPrefix, sleep, startRoles } from '../support/process.ts';

const redis = redisPrefix();
// The workers' TMPDIR: their terraform work directories live here, which is how orphans are found (cwd below it).
const tmp = mkdtempSync(join(tmpdir(), 'skyloft-e2e-crash-'));
chmodSync(tmp, 0o711); // passable by the uid terraform runs as (src/clouds/terraform/uids.ts)

/** Processes whose working directory is under `dir`: the killed worker's terraform and its local-exec `sleep`. */
function processesUnder(dir: string): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    try {
      return readlinkSync(`/proc/${pid}/cwd`).startsWith(dir);
    } catch {
      return false; // gone, or not ours
    }
  });
}

afterAll(async () => {
  await killAll();
  for (const pid of processesUnder(tmp)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(tmp, { recursive: true, force: true });
  await redis.drop();
});

describe('a worker SIGKILLed mid-apply', () => {
  it('leaves an operation that another worker converges: succeeded, resource active, state stored, lock free', async () => {
    const db = await freshDatabase();
    const env = { DATABASE_URL: db.url, REDIS_URL, SKYLOFT_REDIS_PREFIX: redis.prefix, SKYLOFT_MASTER_KEY: masterKey() };
    const processEnv = { ...env, TMPDIR: tmp };
    const [api, worker1] = await Promise.all([startRoles('api,scheduler', processEnv), startRoles('worker', processEnv)]);
    const { json: boot } = await cliJson(['bootstrap', '--email', email()], env);
    const call = apiCaller(api.base, boot.apiKey);

    const cred = await call('POST', '/v1/credentials', { name: 'sandbox', provider: 'sandbox', secret: {} });
    expect(cred.status, cred.text).toBe(201);
    const created = await call('POST', '/v1/resources', {
      name: 'crash-vm', provider: 'sandbox', type: 'vm', region: 'local', credentialId: cred.json().id, spec: { provisionSeconds: 20 },
    });
    expect(created.status, created.text).toBe(202);
    const { resource, operation } = created.json();

    // Mid-apply: the operation runs and terraform has started the (20 s) create.
    for (let deadline = Date.now() + 90_000; ; await sleep(500)) {
      const op = (await call('GET', `/v1/operations/${operation.id}`)).json();
      if (op.status === 'running' && (await call('GET', `/v1/operations/${operation.id}/log`)).text.includes('Provisioning with')) break;
      expect(Date.now() < deadline, `the apply never started: ${JSON.stringify(op)}\n${worker1.proc.describe()}`).toBe(true);
    }
    process.kill(-worker1.proc.pid, 'SIGKILL'); // npm, sh and the Skyloft Node process; terraform has its own group
    await worker1.proc.waitForGroupExit(10_000);
    await startRoles('worker', processEnv);

    let op: any;
    for (let deadline = Date.now() + 120_000; ; await sleep(1_000)) {
      op = (await call('GET', `/v1/operations/${operation.id}`)).json();
      if (['succeeded', 'failed', 'canceled'].includes(op.status) || Date.now() > deadline) break;
    }
    expect(op, (await call('GET', `/v1/operations/${operation.id}/log`)).text).toMatchObject({ status: 'succeeded' });
    expect(op.attempts).toBeGreaterThanOrEqual(2);
    expect((await call('GET', `/v1/resources/${resource.id}`)).json()).toMatchObject({ status: 'active' });
    expect((await call('GET', `/v1/resources/${resource.id}/states`)).json().items.length).toBeGreaterThanOrEqual(1);

    // The state lock is free: a user's terraform can take it and give it back.
    const lock = { ID: 'e2e-after-crash', Operation: 'OperationTypeApply', Info: '', Who: 'e2e', Version: '1.9.0', Created: new Date().toISOString(), Path: '' };
    const locked = await call('LOCK', `/v1/terraform/state/${resource.id}`, lock);
    expect(locked.status, locked.text).toBe(200);
    const unlocked = await call('UNLOCK', `/v1/terraform/state/${resource.id}`, lock);
    expect(unlocked.status, unlocked.text).toBe(200);
  }, 300_000);
});
