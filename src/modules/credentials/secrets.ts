import { ValidationError, type FieldProblem } from '../../shared/errors.ts';
import type { SecretPolicy } from '../../clouds/descriptor.ts';
import { providerOf } from '../../clouds/registry.ts';

export type { SecretPolicy } from '../../clouds/descriptor.ts';

/** A decrypted secret, in the shape its provider's descriptor (src/clouds/<provider>/descriptor.ts) validated. */
export type CredentialSecret = Record<string, unknown>;

/**
 * Validates a secret for its provider (its descriptor's schema, then what the worker's host would do on the tenant's
 * behalf); a 400 names every missing or wrong field, never echoing a value.
 */
export function parseSecret(provider: string, secret: unknown, policy: SecretPolicy): CredentialSecret {
  if (typeof secret !== 'object' || secret === null || Array.isArray(secret)) {
    throw new ValidationError('secret must be an object', [{ path: 'secret', message: 'must be an object' }]);
  }
  const descriptor = providerOf(provider);
  const parsed = descriptor.secret(secret as Record<string, unknown>).safeParse(secret);
  const problems: FieldProblem[] = parsed.success
    ? (descriptor.secretProblems?.(parsed.data as CredentialSecret, policy) ?? [])
    : parsed.error.issues.map((i) => ({
      path: ['secret', ...i.path.map(String), ...('keys' in i ? [(i.keys as string[]).join(',')] : [])].join('.'),
      message: i.code === 'unrecognized_keys' ? `unknown field for a ${provider} secret` : i.message,
    }));
  if (problems.length === 0) return parsed.data as CredentialSecret;
  throw new ValidationError(`Invalid ${provider} secret: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`, problems);
}
