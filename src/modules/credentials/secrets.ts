import { z } from 'zod';
import { ValidationError, type FieldProblem } from '../../shared/errors.ts';
import type { Provider } from './entity.ts';

/**
 * Each provider's secret shape. Fields are checked for presence and type (non-empty strings), never for a
 * provider's own format: the cloud is the judge of whether a key is valid, and the health check asks it.
 */
const str = z.string({ error: 'required, a non-empty string' }).min(1, 'required, a non-empty string');

const awsStatic = z.strictObject({ accessKeyId: str, secretAccessKey: str, sessionToken: str.optional() });
const awsAssumeRole = z
  .strictObject({ roleArn: str, externalId: str.optional(), accessKeyId: str.optional(), secretAccessKey: str.optional() })
  .refine((s) => (s.accessKeyId === undefined) === (s.secretAccessKey === undefined), {
    message: 'accessKeyId and secretAccessKey go together (or leave both out to use the host\'s default AWS chain)',
    path: ['secretAccessKey'],
  });
const azure = z.strictObject({ tenantId: str, clientId: str, clientSecret: str, subscriptionId: str });
const gcp = z.strictObject({ serviceAccountJson: str, projectId: str });
const sandbox = z.strictObject({});

export type AwsSecret = z.infer<typeof awsStatic> | z.infer<typeof awsAssumeRole>;
export type AzureSecret = z.infer<typeof azure>;
export type GcpSecret = z.infer<typeof gcp>;
export type CredentialSecret = AwsSecret | AzureSecret | GcpSecret | Record<string, never>;

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

/** Validates a secret for its provider; a 400 names every missing or wrong field. */
export function parseSecret(provider: Provider, secret: unknown): CredentialSecret {
  if (typeof secret !== 'object' || secret === null || Array.isArray(secret)) {
    throw new ValidationError('secret must be an object', [{ path: 'secret', message: 'must be an object' }]);
  }
  const parsed = schemaFor(provider, secret as Record<string, unknown>).safeParse(secret);
  if (parsed.success) return parsed.data as CredentialSecret;
  const problems: FieldProblem[] = parsed.error.issues.map((i) => ({
    path: ['secret', ...i.path.map(String), ...('keys' in i ? [(i.keys as string[]).join(',')] : [])].join('.'),
    message: i.code === 'unrecognized_keys' ? `unknown field for a ${provider} secret` : i.message,
  }));
  throw new ValidationError(`Invalid ${provider} secret: ${problems.map((p) => p.path).join(', ')}`, problems);
}
