import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { Credential } from '../../src/modules/credentials/entity.ts';
import { CredentialService } from '../../src/modules/credentials/service.ts';
import { credentialUsage } from '../../src/modules/retention/index.ts';
import type { Runtime } from '../../src/runtime.ts';
import { OutboundGuard, type ResolvedAddress } from '../../src/shared/outbound.ts';
import { startWorkers } from '../../workers/index.ts';
import { startEmulator, type Emulator } from '../emulator/emulator.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';
import { TEST_ALLOWED_ENDPOINTS } from '../support/env.ts';
import { freePort } from '../support/process.ts';

/**
 * Server-side requests and the host's own identity, attacked from outside through HTTP:
 * - every spelling of a link-local or metadata address as a credential's endpoint is 400, and nothing is stored;
 * - an endpoint SKYLOFT_ALLOWED_ENDPOINTS does not allow is 400 naming it; an allowed one works;
 * - a name that resolves (or re-resolves) to a link-local address fails at connect time, through the injected
 *   resolver, for each cloud's SDK path, and a local server sees no connection;
 * - a tenant's unreachable endpoint reads the same whatever the socket saw (no port mapping through health messages);
 * - a keyless AWS role is 400 without SKYLOFT_AWS_HOST_IDENTITY; with it, the ExternalId is Skyloft's per account.
 */
const ORIGIN_ALLOWED = 'https://ec2.example.internal:8443';
const REFUSED_SPELLINGS = [
  'http://169.254.169.254/latest/meta-data/',
  'http://2852039166/',
  'http://0xa9fea9fe/',
  'http://0xA9.0xFE.0xA9.0xFE/',
  'http://0251.0376.0251.0376/',
  'http://169.254.43518/',
  'http://169.254.169.254./',
  'http://169%2e254%2e169%2e254/',
  'http://１６９.２５４.１６９.２５４/',
  'http://[::ffff:169.254.169.254]/',
  'http://[::ffff:a9fe:a9fe]/',
  'http://[0:0:0:0:0:ffff:a9fe:a9fe]/',
  'http://[::169.254.169.254]/',
  'http://[64:ff9b::169.254.169.254]/',
  'http://[fd00:ec2::254]/',
  'http://[FE80::1]/',
  'https://169.254.170.2/v2/credentials',
  'http://100.100.100.200/latest/meta-data/',
  'http://168.63.129.16/machine',
  'http://metadata.google.internal/computeMetadata/v1/',
  'http://METADATA.GOOGLE.INTERNAL./',
  'http://metadata/',
  'http://instance-data/',
  'http://allowed.example@169.254.169.254/',
  'http://127.0.0.1@169.254.169.254/',
  'http://169.254.169.254@127.0.0.1/',
  'http://user:pass@127.0.0.1/',
];

/** DNS as the tests want it: names under rebind.test answer what `answers` says, and every lookup is recorded. */
const answers = new Map<string, ResolvedAddress[]>();
const looked: string[] = [];
const v4 = (...addresses: string[]) => addresses.map((address) => ({ address, family: 4 }));
async function resolve(hostname: string): Promise<ResolvedAddress[]> {
  looked.push(hostname);
  const a = answers.get(hostname);
  if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return a;
}

let ctx: TestContext;
let key: string;
let emu: Emulator;
let stopWorkers: () => Promise<void>;
/** A local HTTP server counting the connections it accepts (each answer closes its connection, so none is reused). */
let counter: { server: http.Server; port: number; connections: number };

const call = (method: string, url: string, body?: unknown, c = ctx, k = key) =>
  c.app.inject({ method: method as 'POST', url, headers: bearer(k), ...(body !== undefined && { payload: body as object }) });
const credentialCount = (c = ctx) => c.orm.em.fork().count(Credential, {});
const awsKeys = () => ({ accessKeyId: emu.credentials.aws.accessKeyId, secretAccessKey: emu.credentials.aws.secretAccessKey });

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 150))) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

async function create(body: Record<string, unknown>, c = ctx, k = key): Promise<string> {
  const res = await call('POST', '/v1/credentials', body, c, k);
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id;
}

/** Runs a health check of the credential and waits for that check's result. */
async function checkHealth(credentialId: string, c = ctx, k = key): Promise<{ status: string; errorMessage: string | null }> {
  const res = await call('POST', '/v1/health/check', { credentialId }, c, k);
  expect(res.statusCode, res.body).toBe(202);
  const [checkId] = res.json().runIds as string[];
  return until(`health check ${checkId}`, async () => {
    const items = (await call('GET', `/v1/health/providers/${credentialId}/history?limit=500`, undefined, c, k)).json().items as { id: string; status: string; errorMessage: string | null }[];
    return items.find((i) => i.id === checkId);
  });
}

beforeAll(async () => {
  ctx = await createTestContext({ SKYLOFT_ALLOWED_ENDPOINTS: `${TEST_ALLOWED_ENDPOINTS},*.rebind.test,${ORIGIN_ALLOWED}` }, { resolve });
  key = (await ctx.bootstrap()).apiKey;
  emu = await startEmulator({ seed: 7, aws: { regions: ['us-east-1'], counts: { instances: 2, volumes: 1, vpcs: 1, subnets: 1, securityGroups: 1, buckets: 1 } } });
  const rt: Runtime = { ...ctx.deps, ring: ctx.ring, close: async () => {} };
  stopWorkers = await startWorkers(rt);
  counter = { server: http.createServer((_req, res) => res.writeHead(500, { connection: 'close' }).end()), port: 0, connections: 0 };
  counter.server.on('connection', () => counter.connections++);
  counter.server.listen(0, '127.0.0.1');
  await once(counter.server, 'listening');
  counter.port = (counter.server.address() as net.AddressInfo).port;
}, 60_000);

afterAll(async () => {
  await stopWorkers?.();
  counter?.server.close();
  await emu?.close();
  await ctx?.close();
});

describe('endpoint overrides at request time', () => {
  it.each(REFUSED_SPELLINGS)('refuses %s as endpoints.api with 400, storing nothing', async (url) => {
    const before = await credentialCount();
    const res = await call('POST', '/v1/credentials', { name: `c-${Math.random()}`, provider: 'aws', region: 'us-east-1', endpoints: { api: url }, secret: awsKeys() });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().error.details).toEqual([{ path: 'endpoints.api', message: expect.stringMatching(/link-local or cloud metadata|user name or password/) }]);
    expect(await credentialCount()).toBe(before);
  });

  it("refuses a metadata address as Azure's authorityHost, and in a GCP key's token_uri", async () => {
    const before = await credentialCount();
    const { authorityHost: _, ...azure } = emu.credentials.azure;
    const az = await call('POST', '/v1/credentials', { name: 'az', provider: 'azure', endpoints: { authorityHost: 'https://0xa9fea9fe/' }, secret: azure });
    expect(az.statusCode, az.body).toBe(400);
    expect(az.json().error.details[0].path).toBe('endpoints.authorityHost');
    const sa = { ...emu.credentials.gcp.serviceAccountKey, token_uri: 'http://[::ffff:a9fe:a9fe]/token' };
    const gcp = await call('POST', '/v1/credentials', { name: 'gc', provider: 'gcp', secret: { projectId: 'p', serviceAccountJson: JSON.stringify(sa) } });
    expect(gcp.statusCode, gcp.body).toBe(400);
    expect(gcp.json().error.details[0]).toMatchObject({ path: 'secret.serviceAccountJson', message: expect.stringMatching(/^token_uri .*link-local/) });
    expect(await credentialCount()).toBe(before);
  });

  it('refuses an endpoint SKYLOFT_ALLOWED_ENDPOINTS does not allow with 400 naming it; allows its origins exactly', async () => {
    const before = await credentialCount();
    for (const url of ['https://ec2.us-gov-west-1.amazonaws.com', 'https://ec2.example.internal:8444', 'http://ec2.example.internal:8443', 'https://x.ec2.example.internal:8443', 'http://rebind.test/']) {
      const res = await call('POST', '/v1/credentials', { name: 'n', provider: 'aws', endpoints: { api: url }, secret: awsKeys() });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error.message, url).toContain('SKYLOFT_ALLOWED_ENDPOINTS');
    }
    expect(await credentialCount()).toBe(before);
    await create({ name: 'origin', provider: 'aws', endpoints: { api: `${ORIGIN_ALLOWED}/` }, secret: awsKeys() });
    await create({ name: 'pattern', provider: 'aws', endpoints: { api: 'http://a.b.rebind.test:1234' }, secret: awsKeys() });
  });

  it('refuses a GCP key that is a path, an external_account file or not a service account key', async () => {
    const before = await credentialCount();
    const external = { type: 'external_account', audience: 'x', subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', token_url: 'https://sts.googleapis.com/v1/token', credential_source: { file: '/var/run/secrets/token' } };
    for (const json of ['/etc/skyloft/key.json', JSON.stringify(external), JSON.stringify({ ...emu.credentials.gcp.serviceAccountKey, credential_source: { url: 'http://169.254.169.254/' } }), JSON.stringify({ type: 'authorized_user', refresh_token: 'r' }), '[]']) {
      const res = await call('POST', '/v1/credentials', { name: 'g', provider: 'gcp', secret: { projectId: 'p', serviceAccountJson: json } });
      expect(res.statusCode, json).toBe(400);
      expect(res.json().error.details[0].path).toBe('secret.serviceAccountJson');
      expect(res.body).not.toContain('/etc/skyloft');
    }
    expect(await credentialCount()).toBe(before);
  });

  it('parses SKYLOFT_ALLOWED_ENDPOINTS into origins and host patterns, and stops start-up on a bad entry', () => {
    const env = { DATABASE_URL: 'postgres://db/x', SKYLOFT_MASTER_KEY: Buffer.alloc(32).toString('base64') };
    expect(loadConfig({ ...env, SKYLOFT_ALLOWED_ENDPOINTS: ' https://EC2.example.internal:8443/ , *.Example.Internal,127.0.0.1,[::1]' }).outbound.allowedEndpoints).toEqual([
      { origin: 'https://ec2.example.internal:8443' },
      { host: 'example.internal', subdomains: true },
      { host: '127.0.0.1', subdomains: false },
      { host: '::1', subdomains: false },
    ]);
    expect(loadConfig(env).outbound.allowedEndpoints).toEqual([]);
    expect(loadConfig(env).awsHostIdentity).toBe(false);
    let err: unknown;
    try {
      loadConfig({ ...env, SKYLOFT_ALLOWED_ENDPOINTS: 'https://a.example/path,*.127.0.0.1,ftp://b.example,ok.example,https://u@c.example', SKYLOFT_AWS_HOST_IDENTITY: 'yes' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).toMatch(/SKYLOFT_ALLOWED_ENDPOINTS: .*bad: https:\/\/a\.example\/path, \*\.127\.0\.0\.1, ftp:\/\/b\.example, https:\/\/u@c\.example$/m);
    expect(problems).toMatch(/SKYLOFT_AWS_HOST_IDENTITY: must be true or false/);
  });

  it('allows loopback in local mode only, and never a metadata address even when listed', () => {
    const local = new OutboundGuard({ allowedEndpoints: [], localMode: true });
    const server = new OutboundGuard({ allowedEndpoints: [{ host: '169.254.169.254', subdomains: false }], localMode: false });
    expect(local.problem('http://127.0.0.1:4566')).toBeUndefined();
    expect(local.problem('http://localhost:4566')).toBeUndefined();
    expect(local.problem('http://10.0.0.5:4566')).toMatch(/SKYLOFT_ALLOWED_ENDPOINTS/);
    expect(server.problem('http://127.0.0.1:4566')).toMatch(/SKYLOFT_ALLOWED_ENDPOINTS/);
    expect(server.problem('http://169.254.169.254/')).toMatch(/link-local/);
  });
});

describe('endpoint overrides at connect time', () => {
  it('works for an allowed endpoint: a name resolving to loopback reaches the emulator', async () => {
    answers.set('aws.rebind.test', v4('127.0.0.1'));
    const port = new URL(emu.urls.aws).port;
    const id = await create({ name: 'allowed', provider: 'aws', region: 'us-east-1', regions: ['us-east-1'], endpoints: { api: `http://aws.rebind.test:${port}` }, secret: awsKeys() });
    expect(await checkHealth(id)).toMatchObject({ status: 'healthy', errorMessage: null });
    expect(looked).toContain('aws.rebind.test');
  });

  it('fails the call of a name that resolves to a link-local address (beside a good one), connecting nowhere', async () => {
    answers.set('imds.rebind.test', v4('169.254.169.254', '127.0.0.1'));
    const api = `http://imds.rebind.test:${counter.port}`;
    const { authorityHost: _, ...azure } = emu.credentials.azure;
    const sa = JSON.stringify(emu.credentials.gcp.serviceAccountKey);
    const ids = [
      await create({ name: 'imds-aws', provider: 'aws', region: 'us-east-1', endpoints: { api }, secret: awsKeys() }),
      await create({ name: 'imds-azure', provider: 'azure', endpoints: { api: `https://imds.rebind.test:${counter.port}`, authorityHost: `https://imds.rebind.test:${counter.port}` }, secret: azure }),
      await create({ name: 'imds-gcp', provider: 'gcp', endpoints: { api }, secret: { projectId: emu.credentials.gcp.projectId, serviceAccountJson: sa } }),
    ];
    looked.length = 0;
    const before = counter.connections;
    for (const id of ids) {
      const check = await checkHealth(id);
      expect(check.status).toBe('error');
      expect(check.errorMessage).toMatch(/^Refused to connect \(ERR_SKYLOFT_OUTBOUND_REFUSED\): the credential's endpoint resolves to a link-local or cloud metadata address$/);
    }
    expect(looked).toContain('imds.rebind.test');
    expect(counter.connections).toBe(before);
  });

  it('fails a cost collection through BigQuery the same way', async () => {
    answers.set('bq.rebind.test', v4('169.254.169.254'));
    const g = emu.options.gcp;
    const id = await create({
      name: 'imds-bq', provider: 'gcp', endpoints: { api: `http://bq.rebind.test:${counter.port}` },
      options: { billingDataset: g.billingDataset, billingTable: g.billingTable },
      secret: { projectId: emu.credentials.gcp.projectId, serviceAccountJson: JSON.stringify(emu.credentials.gcp.serviceAccountKey) },
    });
    const before = counter.connections;
    // Registering the credential queued its backfill collection.
    const run = await until('the backfill collection', async () => {
      const items = (await call('GET', `/v1/costs/runs?credentialId=${id}`)).json().items as { status: string; error: string | null }[];
      return items.find((r) => r.status === 'failed' || r.status === 'succeeded');
    });
    expect(run).toMatchObject({ status: 'failed', error: expect.stringContaining('ERR_SKYLOFT_OUTBOUND_REFUSED') });
    expect(counter.connections).toBe(before);
  });

  it('fails the next call once a name re-resolves to a link-local address', async () => {
    answers.set('flip.rebind.test', v4('127.0.0.1'));
    const id = await create({ name: 'flip', provider: 'aws', region: 'us-east-1', endpoints: { api: `http://flip.rebind.test:${counter.port}` }, secret: awsKeys() });
    const first = counter.connections;
    expect((await checkHealth(id)).status).toBe('error'); // the counting server answers 500, but it was reached
    expect(counter.connections).toBeGreaterThan(first);
    answers.set('flip.rebind.test', v4('169.254.169.254'));
    const second = counter.connections;
    expect((await checkHealth(id)).errorMessage).toMatch(/ERR_SKYLOFT_OUTBOUND_REFUSED/);
    expect(counter.connections).toBe(second);
  });

  it('refuses a link-local address given literally, which skips DNS (an Azure nextLink is followed verbatim)', async () => {
    const agent = ctx.deps.outbound.agents().http;
    const err = await new Promise<Error>((ok) => http.get('http://169.254.169.254/latest/meta-data/', { agent }, () => ok(new Error('answered'))).on('error', ok));
    expect(err.message).toContain('ERR_SKYLOFT_OUTBOUND_REFUSED');
  });

  it('says the same about an unreachable endpoint whatever the socket saw: a closed port, a silent server, not HTTP', async () => {
    const closed = await freePort();
    const silent = net.createServer(() => {}).listen(0, '127.0.0.1');
    const chatty = net.createServer((s) => s.end('SSH-2.0-OpenSSH_9.2\r\n')).listen(0, '127.0.0.1');
    await Promise.all([once(silent, 'listening'), once(chatty, 'listening')]);
    try {
      const ports = [closed, (silent.address() as net.AddressInfo).port, (chatty.address() as net.AddressInfo).port];
      for (const port of ports) {
        const id = await create({ name: `unreachable-${port}`, provider: 'aws', region: 'us-east-1', endpoints: { api: `http://127.0.0.1:${port}` }, options: { timeoutMs: 300 }, secret: awsKeys() });
        expect(await checkHealth(id)).toEqual(expect.objectContaining({ status: 'error', errorMessage: "Could not reach the credential's endpoint" }));
      }
    } finally {
      silent.close();
      chatty.close();
    }
  });

  it('fails the checks of a credential stored before its endpoint was refused, saying which variable to change', async () => {
    // As it would have been stored before this installation narrowed SKYLOFT_ALLOWED_ENDPOINTS.
    const permissive = new CredentialService(ctx.ring, credentialUsage, { outbound: new OutboundGuard({ allowedEndpoints: [{ host: 'example.com', subdomains: true }], localMode: false }) });
    const accountId = (await call('GET', '/v1/me')).json().account.id;
    const actor = { kind: 'system' as const, accountId, userId: null, keyId: null, role: 'admin' as const };
    const old = await permissive.create(ctx.orm.em.fork(), actor, { name: 'old-endpoint', provider: 'aws', region: 'us-east-1', endpoints: { api: 'https://ec2.example.com' }, secret: awsKeys() });
    expect(await checkHealth(old.id)).toMatchObject({ status: 'error', errorMessage: expect.stringMatching(/^The credential's endpoints\.api is not an endpoint this installation allows.*SKYLOFT_ALLOWED_ENDPOINTS/) });
  });
});

describe("the host's own AWS identity", () => {
  const ROLE = 'arn:aws:iam::123456789012:role/skyloft-reader';

  it('refuses a keyless role with 400 naming SKYLOFT_AWS_HOST_IDENTITY when it is unset', async () => {
    const before = await credentialCount();
    for (const secret of [{ roleArn: ROLE }, { roleArn: ROLE, externalId: 'chosen-by-me' }]) {
      const res = await call('POST', '/v1/credentials', { name: 'keyless', provider: 'aws', region: 'us-east-1', secret });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().error.message).toContain('SKYLOFT_AWS_HOST_IDENTITY');
    }
    expect(await credentialCount()).toBe(before);
  });

  it("fails the checks of a keyless role stored before, saying so", async () => {
    const permissive = new CredentialService(ctx.ring, credentialUsage, { awsHostIdentity: true });
    const accountId = (await call('GET', '/v1/me')).json().account.id;
    const actor = { kind: 'system' as const, accountId, userId: null, keyId: null, role: 'admin' as const };
    const old = await permissive.create(ctx.orm.em.fork(), actor, { name: 'old-keyless', provider: 'aws', region: 'us-east-1', secret: { roleArn: ROLE } });
    expect(await checkHealth(old.id)).toMatchObject({ status: 'error', errorMessage: expect.stringContaining('SKYLOFT_AWS_HOST_IDENTITY') });
  });

  describe('with SKYLOFT_AWS_HOST_IDENTITY=true', () => {
    let host: TestContext;
    let hostKey: string;
    let otherKey: string;
    let stopHostWorkers: () => Promise<void>;
    const saved: Record<string, string | undefined> = {};

    beforeAll(async () => {
      // The installation's own AWS identity and STS: the SDK's standard variables, pointed at the emulator. No endpoint
      // in any credential below: the host identity's AssumeRole goes where the installation says.
      const env = { AWS_ACCESS_KEY_ID: emu.credentials.aws.accessKeyId, AWS_SECRET_ACCESS_KEY: emu.credentials.aws.secretAccessKey, AWS_ENDPOINT_URL: emu.urls.aws };
      for (const [k, v] of Object.entries(env)) {
        saved[k] = process.env[k];
        process.env[k] = v;
      }
      host = await createTestContext({ SKYLOFT_AWS_HOST_IDENTITY: 'true', SKYLOFT_ALLOWED_ENDPOINTS: ORIGIN_ALLOWED });
      hostKey = (await host.bootstrap()).apiKey;
      otherKey = (await host.bootstrap()).apiKey;
      stopHostWorkers = await startWorkers({ ...host.deps, ring: host.ring, close: async () => {} });
    }, 60_000);

    afterAll(async () => {
      await stopHostWorkers?.();
      await host?.close();
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    });

    it('still refuses loopback endpoints SKYLOFT_ALLOWED_ENDPOINTS does not list', async () => {
      const res = await call('POST', '/v1/credentials', { name: 'lo', provider: 'aws', endpoints: { api: emu.urls.aws }, secret: awsKeys() }, host, hostKey);
      expect(res.statusCode).toBe(400);
      expect(res.json().error.message).toContain('SKYLOFT_ALLOWED_ENDPOINTS');
    });

    it("shows each account its own ExternalId, refuses a caller's, and assumes the role with Skyloft's", async () => {
      const mine = (await call('GET', '/v1/credentials/aws-external-id', undefined, host, hostKey)).json().externalId as string;
      const theirs = (await call('GET', '/v1/credentials/aws-external-id', undefined, host, otherKey)).json().externalId as string;
      expect(mine).toMatch(/^skyloft-[0-9a-f]{32}$/);
      expect(theirs).not.toBe(mine);
      expect((await call('GET', '/v1/credentials/aws-external-id', undefined, host, hostKey)).json().externalId).toBe(mine);

      const before = await credentialCount(host);
      const chosen = await call('POST', '/v1/credentials', { name: 'chosen', provider: 'aws', region: 'us-east-1', secret: { roleArn: ROLE, externalId: theirs } }, host, hostKey);
      expect(chosen.statusCode, chosen.body).toBe(400);
      expect(chosen.json().error.details[0].path).toBe('secret.externalId');
      expect(await credentialCount(host)).toBe(before);

      // The role trusts this account's ExternalId only; another role trusts the other account's.
      emu.options.aws.roles.push({ arn: ROLE, externalId: mine }, { arn: 'arn:aws:iam::123456789012:role/theirs', externalId: theirs });
      try {
        const ok = await create({ name: 'keyless', provider: 'aws', region: 'us-east-1', regions: ['us-east-1'], secret: { roleArn: ROLE } }, host, hostKey);
        expect(await checkHealth(ok, host, hostKey)).toMatchObject({ status: 'healthy', errorMessage: null });
        // Naming the other account's role gets nowhere: Skyloft sends this account's ExternalId.
        const borrowed = await create({ name: 'borrowed', provider: 'aws', region: 'us-east-1', secret: { roleArn: 'arn:aws:iam::123456789012:role/theirs' } }, host, hostKey);
        expect(await checkHealth(borrowed, host, hostKey)).toMatchObject({ status: 'error', errorMessage: expect.stringContaining('AccessDenied') });
      } finally {
        emu.options.aws.roles.length = 0;
      }
    });
  });
});
