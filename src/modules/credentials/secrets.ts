import { z } from 'zod';
import { ValidationError, type FieldProblem } from '../../shared/errors.ts';
import type { Provider } from './entity.ts';

/**
 * Each provider's secret shape. Fields are checked for presence and type (non-empty strings), never for a
 * provider's own format: the cloud is the judge of whether a key is valid, and the health check asks it. Two
 * exceptions, both about what the worker's host would do on a tenant's behalf: an AWS role without keys (assumed
 * with the host's own identity) and a GCP key that is not a service account key's content (see below).
 */
const str = z.string({ error: 'required, a non-empty string' }).min(1, 'required, a non-empty string');

const awsStatic = z.strictObject({ accessKeyId: str, secretAccessKey: str, sessionToken: str.optional() });
const awsAssumeRole = z
  .strictObject({ roleArn: str, externalId: str.optional(), accessKeyId: str.optional(), secretAccessKey: str.optional() })
  .refine((s) => (s.accessKeyId === undefined) === (s.secretAccessKey === undefined), {
    message: 'accessKeyId and secretAccessKey go together (or leave both out to use the host\'s own AWS identity where SKYLOFT_AWS_HOST_IDENTITY allows it)',
    path: ['secretAccessKey'],
  });
const azure = z.strictObject({ tenantId: str, clientId: str, clientSecret: str, subscriptionId: str });
const gcp = z.strictObject({ serviceAccountJson: str, projectId: str });
const sandbox = z.strictObject({});

export type AwsSecret = z.infer<typeof awsStatic> | z.infer<typeof awsAssumeRole>;
export type AzureSecret = z.infer<typeof azure>;
export type GcpSecret = z.infer<typeof gcp>;
export type CredentialSecret = AwsSecret | AzureSecret | GcpSecret | Record<string, never>;

/** What the installation allows beyond the shapes: see parseSecret. */
export interface SecretPolicy {
  /** SKYLOFT_AWS_HOST_IDENTITY. */
  awsHostIdentity: boolean;
  /** Why a URL named in a secret may not be called (the endpoint guard's request-time check), or undefined. */
  endpointProblem: (url: string) => string | undefined;
}

/** An AWS role to be assumed with the worker host's own identity: no keys of the tenant's. */
export function isKeylessRole(secret: unknown): boolean {
  const s = secret as Partial<Record<string, unknown>>;
  return 'roleArn' in s && !s.accessKeyId;
}

function schemaFor(provider: Provider, secret: Record<string, unknown>) {
  switch (provider) {
    case 'aws':
      return 'roleArn' in secret ? awsAssumeRole : awsStatic;
    case 'azure':
      return azure;
    case 'gcp':
      return gcp;
    case 'sandbox':
      return sandbox;
  }
}

/** Validates a secret for its provider; a 400 names every missing or wrong field, never echoing a value. */
export function parseSecret(provider: Provider, secret: unknown, policy: SecretPolicy): CredentialSecret {
  if (typeof secret !== 'object' || secret === null || Array.isArray(secret)) {
    throw new ValidationError('secret must be an object', [{ path: 'secret', message: 'must be an object' }]);
  }
  const parsed = schemaFor(provider, secret as Record<string, unknown>).safeParse(secret);
  const problems: FieldProblem[] = parsed.success
    ? hostProblems(provider, parsed.data as CredentialSecret, policy)
    : parsed.error.issues.map((i) => ({
      path: ['secret', ...i.path.map(String), ...('keys' in i ? [(i.keys as string[]).join(',')] : [])].join('.'),
      message: i.code === 'unrecognized_keys' ? `unknown field for a ${provider} secret` : i.message,
    }));
  if (problems.length === 0) return parsed.data as CredentialSecret;
  throw new ValidationError(`Invalid ${provider} secret: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`, problems);
}

/**
 * Secrets that would make the worker's host act with its own identity or read its own files:
 * - an AWS role without keys is assumed with the host's identity: refused unless SKYLOFT_AWS_HOST_IDENTITY, and then
 *   the ExternalId is Skyloft's per account (GET /v1/credentials/aws-external-id), never the caller's, or one tenant
 *   could have the host assume another tenant's role by naming it with that tenant's ExternalId;
 * - a GCP key reaches terraform's google provider as GOOGLE_CREDENTIALS, which takes a path as readily as content and
 *   follows external_account `credential_source` files and URLs and a key's `token_uri`: only a service account key's
 *   content is accepted, and a token_uri other than Google's must pass the endpoint guard like endpoints.api.
 */
function hostProblems(provider: Provider, secret: CredentialSecret, policy: SecretPolicy): FieldProblem[] {
  if (provider === 'aws' && isKeylessRole(secret)) {
    if (!policy.awsHostIdentity) {
      return [{ path: 'secret.accessKeyId', message: 'required with roleArn: this installation does not assume roles with its own AWS identity (SKYLOFT_AWS_HOST_IDENTITY)' }];
    }
    if ((secret as { externalId?: string }).externalId !== undefined) {
      return [{ path: 'secret.externalId', message: 'Skyloft chooses the ExternalId of a role it assumes with its own identity (GET /v1/credentials/aws-external-id): leave it out' }];
    }
  }
  if (provider === 'gcp') {
    const problem = serviceAccountProblem((secret as GcpSecret).serviceAccountJson, policy);
    if (problem) return [{ path: 'secret.serviceAccountJson', message: problem }];
  }
  return [];
}

const GOOGLE_TOKEN_URIS = new Set(['https://oauth2.googleapis.com/token', 'https://accounts.google.com/o/oauth2/token']);

function serviceAccountProblem(text: string, policy: SecretPolicy): string | undefined {
  let key: unknown;
  try {
    key = JSON.parse(text);
  } catch {
    // JSON.parse's own message would quote the secret.
    return 'must be the content of a service account key file (JSON), not a path or anything else';
  }
  if (typeof key !== 'object' || key === null || Array.isArray(key)) return 'must be the content of a service account key file (a JSON object)';
  const k = key as Record<string, unknown>;
  if (k.type !== 'service_account' || 'credential_source' in k) {
    return 'must be a service account key (type "service_account"); external_account, authorized_user and impersonation files are refused';
  }
  for (const field of ['client_email', 'private_key']) {
    if (typeof k[field] !== 'string' || k[field] === '') return `must hold ${field}, as a service account key file does`;
  }
  if (k.token_uri !== undefined && !GOOGLE_TOKEN_URIS.has(String(k.token_uri))) {
    const problem = typeof k.token_uri === 'string' ? policy.endpointProblem(k.token_uri) : 'must be a URL';
    if (problem) return `token_uri ${problem}`;
  }
  if (k.universe_domain !== undefined && k.universe_domain !== 'googleapis.com') {
    return 'universe_domain must be googleapis.com (point the credential elsewhere with endpoints.api)';
  }
  return undefined;
}
