import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCloud, type CloudInput } from '../../src/clouds/index.ts';
import { CloudCertificateError } from '../../src/clouds/ports.ts';
import { describeCertificateFailure, isCertificateCode } from '../../src/shared/certificates.ts';
import { startEmulator, type Emulator } from '../emulator/emulator.ts';
import { listAll, testBudget, testOutbound } from './support.ts';

/**
 * Issue 19, item 10: an endpoint whose TLS certificate the worker does not trust. The emulator's Azure origin speaks
 * TLS with a self-signed certificate; opened without its CA, every cloud's calls there must say that, and the fix.
 */
const { budget, start: startBudget, stop: stopBudget } = testBudget();
let emu: Emulator;
let origin: string;

beforeAll(async () => {
  await startBudget();
  emu = await startEmulator({ seed: 5 });
  origin = new URL(emu.urls.azure).host;
}, 60_000);
afterAll(async () => {
  await emu?.close();
  await stopBudget();
});

const UNTRUSTED = (host: string) =>
  new RegExp(`^The TLS certificate of ${host.replace(/[.[\]]/g, '\\$&')} is not trusted \\(DEPTH_ZERO_SELF_SIGNED_CERT\\): set NODE_EXTRA_CA_CERTS to the PEM file of the CA`);

function inputs(): Record<'aws' | 'azure' | 'gcp', CloudInput> {
  const { authorityHost, ...azure } = emu.credentials.azure;
  const common = { credentialId: randomUUID(), options: { timeoutMs: 5_000 } };
  return {
    azure: { ...common, provider: 'azure', endpoints: { api: emu.urls.azure, authorityHost }, secret: azure },
    // The AWS and GCP SDKs pointed at the same TLS origin: the handshake fails before any HTTP.
    aws: { ...common, provider: 'aws', region: 'us-east-1', endpoints: { api: emu.urls.azure }, secret: { accessKeyId: emu.credentials.aws.accessKeyId, secretAccessKey: emu.credentials.aws.secretAccessKey } },
    gcp: { ...common, provider: 'gcp', endpoints: { api: emu.urls.azure }, secret: { projectId: emu.credentials.gcp.projectId, serviceAccountJson: JSON.stringify(emu.credentials.gcp.serviceAccountKey) } },
  };
}

describe('a TLS certificate the worker does not trust', () => {
  for (const provider of ['azure', 'aws', 'gcp'] as const) {
    it(`fails ${provider}'s health probe naming the certificate, its host and the fix, at once and for good`, async () => {
      const cloud = await openCloud(inputs()[provider], { budget, outbound: testOutbound });
      const err = await cloud.health.probe().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(CloudCertificateError);
      expect((err as CloudCertificateError).message).toMatch(UNTRUSTED(origin));
      expect((err as CloudCertificateError).retryable).toBe(false);
    });
  }

  it("fails Azure's inventory and cost the same way (MSAL's error names no cause: the guard's agents saw it)", async () => {
    const cloud = await openCloud(inputs().azure, { budget, outbound: testOutbound });
    await expect(listAll(cloud, { region: 'global', kind: 'compute:virtualMachine' })).rejects.toThrow(UNTRUSTED(origin));
    const lines = cloud.cost.collect({ from: '2026-01-01', to: '2026-01-02' }, { paidRequest: () => {}, notice: () => {} });
    await expect((async () => { for await (const _ of lines); })()).rejects.toThrow(UNTRUSTED(origin));
  });

  it('works once the CA is trusted', async () => {
    const cloud = await openCloud(inputs().azure, { budget, outbound: testOutbound, tls: { ca: emu.urls.caCert } });
    await expect(cloud.health.probe()).resolves.toBeUndefined();
  });
});

describe('certificate failures', () => {
  it('are told apart by what fixes them', () => {
    expect(describeCertificateFailure({ host: 'arm.example:8443', code: 'CERT_HAS_EXPIRED' })).toMatch(/^The TLS certificate of arm\.example:8443 is outside its validity period \(CERT_HAS_EXPIRED\): renew/);
    expect(describeCertificateFailure({ host: 'arm.example', code: 'ERR_TLS_CERT_ALTNAME_INVALID' })).toMatch(/does not name that host \(ERR_TLS_CERT_ALTNAME_INVALID\): point the credential's endpoints/);
    expect(describeCertificateFailure({ code: 'SELF_SIGNED_CERT_IN_CHAIN' })).toMatch(/^The TLS certificate of the cloud endpoint is not trusted \(SELF_SIGNED_CERT_IN_CHAIN\): set NODE_EXTRA_CA_CERTS/);
    expect(describeCertificateFailure({ host: 'h', code: 'CERT_REVOKED' })).toMatch(/was refused \(CERT_REVOKED\)/);
    for (const code of ['ECONNREFUSED', 'ERR_TLS_HANDSHAKE_TIMEOUT', 'EPROTO', undefined, 42]) expect(isCertificateCode(code)).toBe(false);
  });
});
