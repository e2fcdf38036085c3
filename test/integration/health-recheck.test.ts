import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/runtime.ts';
import { recheckFailedHealth } from '../../workers/health-recheck.ts';
import { startWorkers } from '../../workers/index.ts';
import { startScheduler } from '../../workers/scheduler.ts';
import { startEmulator, type Emulator } from '../emulator/emulator.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';

/**
 * Issue 19, item 10, through the real API and workers: an Azure credential behind a TLS certificate the workers do not
 * trust reads as a certificate problem with its fix; once the CA is trusted and the workers restart, its health is
 * checked again at start, without anyone asking.
 */
let ctx: TestContext;
let emu: Emulator;
let rt: Runtime;
let key: string;
let stopWorkers: (() => Promise<void>) | undefined;
const previousCAs = tls.getCACertificates('default');

beforeAll(async () => {
  ctx = await createTestContext();
  emu = await startEmulator({ seed: 9 });
  rt = { ...ctx.deps, ring: ctx.ring, close: async () => {} };
  key = (await ctx.bootstrap()).apiKey;
}, 60_000);
afterAll(async () => {
  await stopWorkers?.();
  tls.setDefaultCACertificates(previousCAs);
  await emu?.close();
  await ctx?.close();
});

const call = async (method: string, url: string, body?: unknown) =>
  (await ctx.app.inject({ method: method as 'GET', url, headers: bearer(key), ...(body !== undefined && { payload: body as object }) })).json();

async function latest(credentialId: string, where: (h: { status: string; errorMessage: string | null }) => boolean) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const found = (await call('GET', '/v1/health/providers')).items.find((h: { credentialId: string }) => h.credentialId === credentialId);
    if (found && where(found)) return found;
    if (Date.now() > deadline) throw new Error(`no such check of ${credentialId}: ${JSON.stringify(found)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The start-up re-checks waiting in the health queue, by credential. */
async function waitingChecks(): Promise<string[]> {
  const jobs = await ctx.deps.queues.get('health').getJobs(['waiting', 'prioritized', 'delayed']);
  return jobs.filter((j) => j.name === 'health-check').map((j) => (j.data as { credentialId: string }).credentialId).sort();
}

describe('health behind a TLS certificate the workers do not trust', () => {
  let azure: string;
  let aws: string;

  it('names the certificate problem and its fix, for Azure (whose SDK hides the cause) and AWS alike', async () => {
    stopWorkers = await startWorkers(rt);
    const { authorityHost, ...secret } = emu.credentials.azure;
    azure = (await call('POST', '/v1/credentials', { name: 'azure', provider: 'azure', endpoints: { api: emu.urls.azure, authorityHost }, secret })).id;
    aws = (await call('POST', '/v1/credentials', {
      name: 'aws', provider: 'aws', region: 'us-east-1', endpoints: { api: emu.urls.azure },
      secret: { accessKeyId: emu.credentials.aws.accessKeyId, secretAccessKey: emu.credentials.aws.secretAccessKey },
    })).id;
    const host = new URL(emu.urls.azure).host;
    for (const id of [azure, aws]) {
      const check = await latest(id, (h) => h.status === 'error');
      expect(check.errorMessage).toContain(`The TLS certificate of ${host} is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT): set NODE_EXTRA_CA_CERTS`);
      expect(check.errorMessage).not.toMatch(/endpoints_resolution_error|Could not reach/);
    }
    await stopWorkers();
    stopWorkers = undefined;
  }, 90_000);

  it('queues one re-check per failed credential however many processes start at once', async () => {
    await Promise.all([recheckFailedHealth(rt), recheckFailedHealth(rt), startScheduler(rt).then((stop) => stop())]);
    expect(await waitingChecks()).toEqual([azure, aws].sort());
  });

  it('checks again at start, so a restart with the CA trusted shows healthy without asking', async () => {
    tls.setDefaultCACertificates([...previousCAs, emu.urls.caCert]);
    await ctx.deps.queues.get('health').drain(); // only the start below may queue checks now
    stopWorkers = await startWorkers(rt);
    expect(await latest(azure, (h) => h.status === 'healthy')).toMatchObject({ status: 'healthy', errorMessage: null });
  }, 90_000);
});
