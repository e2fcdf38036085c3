import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Credential } from '../../src/modules/credentials/entity.ts';
import { AuditLog } from '../../src/modules/audit/entity.ts';
import { CredentialService } from '../../src/modules/credentials/service.ts';
import { credentialUsage } from '../../src/modules/retention/index.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';

const SECRET = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY';

let ctx: TestContext;
let key: string;

beforeAll(async () => {
  ctx = await createTestContext();
  key = (await ctx.bootstrap()).apiKey;
});
afterAll(() => ctx.close());

const post = (body: unknown, headers: Record<string, string> = {}) =>
  ctx.app.inject({ method: 'POST', url: '/v1/credentials', headers: { ...bearer(key), ...headers }, payload: body as object });

async function credentialCount() {
  return ctx.orm.em.fork().count(Credential, {});
}

describe('POST /v1/credentials', () => {
  it('stores an AWS credential encrypted and never answers its secret', async () => {
    const res = await post({ name: 'aws-prod', provider: 'aws', region: 'us-east-1', secret: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: SECRET } });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({ name: 'aws-prod', provider: 'aws', region: 'us-east-1' });
    expect(res.body).not.toContain(SECRET);
    expect(res.body).not.toContain('AKIAEXAMPLE');

    const row = await ctx.orm.em.fork().findOneOrFail(Credential, { id: body.id }, { populate: ['secretCiphertext'] });
    expect(Buffer.from(row.secretCiphertext!).includes(Buffer.from(SECRET))).toBe(false);
    const opened = await new CredentialService(ctx.ring, credentialUsage).openSecret(ctx.orm.em.fork(), row);
    expect(opened).toEqual({ accessKeyId: 'AKIAEXAMPLE', secretAccessKey: SECRET });
  });

  it('answers 400 naming every missing secret field, and writes nothing', async () => {
    const before = await credentialCount();
    const res = await post({ name: 'az', provider: 'azure', secret: { tenantId: 't' } });
    expect(res.statusCode).toBe(400);
    const paths = res.json().error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['secret.clientId', 'secret.clientSecret', 'secret.subscriptionId']));
    expect(await credentialCount()).toBe(before);
  });

  it('answers 409 for a duplicate name, and writes nothing', async () => {
    await post({ name: 'dup', provider: 'sandbox', secret: {} });
    const before = await credentialCount();
    const res = await post({ name: 'dup', provider: 'sandbox', secret: {} });
    expect(res.statusCode).toBe(409);
    expect(await credentialCount()).toBe(before);
  });

  it('keeps secrets out of the logs and the audit table', async () => {
    await post({ name: 'gcp', provider: 'gcp', secret: { projectId: 'p', serviceAccountJson: `{"type":"service_account","client_email":"sa@p.iam.gserviceaccount.com","private_key":"${SECRET}-gcp"}` } });
    expect(ctx.logs.join('\n')).not.toContain(SECRET);
    const audit = await ctx.orm.em.fork().find(AuditLog, {});
    expect(audit.length).toBeGreaterThan(0);
    expect(JSON.stringify(audit)).not.toContain(SECRET);
  });
});
