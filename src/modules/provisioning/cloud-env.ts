import { UnprocessableError } from '../../shared/errors.ts';
import type { OutboundGuard } from '../../shared/outbound.ts';
import type { Credential } from '../credentials/entity.ts';
import type { AwsSecret, AzureSecret, CredentialSecret, GcpSecret } from '../credentials/secrets.ts';

/**
 * How a credential reaches terraform: environment variables only (never the synthesized config), plus the stack
 * settings its endpoints imply. Every value here is also redacted from terraform's output by the runner.
 *
 * Terraform's providers make their own connections, which the outbound guard's agents cannot see: for terraform only
 * the request-time check holds, repeated here against the current SKYLOFT_ALLOWED_ENDPOINTS (an endpoint stored before
 * it changed fails the operation). A name that later resolves to a link-local address is not caught here; the GCP key
 * checks at request time (no path, no external_account, Google's token_uri) keep GOOGLE_CREDENTIALS from reading the
 * host's files or URLs.
 */
export function terraformCloudEnv(
  credential: Credential,
  secret: CredentialSecret,
  region: string,
  outbound: OutboundGuard,
): { env: Record<string, string>; stack: Record<string, unknown> } {
  const refused = outbound.endpointProblems(credential.endpoints);
  if (refused.length > 0) throw new UnprocessableError(`The credential's ${refused.map((p) => `${p.path} ${p.message}`).join('; ')}`);
  switch (credential.provider) {
    case 'sandbox':
      return { env: {}, stack: {} };
    case 'aws': {
      const s = secret as AwsSecret;
      if ('roleArn' in s) {
        throw new UnprocessableError('Provisioning with an assume-role AWS credential is not supported yet; use access keys');
      }
      return {
        env: { AWS_ACCESS_KEY_ID: s.accessKeyId, AWS_SECRET_ACCESS_KEY: s.secretAccessKey, ...(s.sessionToken && { AWS_SESSION_TOKEN: s.sessionToken }), AWS_REGION: region },
        stack: credential.endpoints.api ? { endpoint: credential.endpoints.api } : {},
      };
    }
    case 'azure': {
      const s = secret as AzureSecret;
      return { env: { ARM_TENANT_ID: s.tenantId, ARM_CLIENT_ID: s.clientId, ARM_CLIENT_SECRET: s.clientSecret, ARM_SUBSCRIPTION_ID: s.subscriptionId }, stack: {} };
    }
    case 'gcp': {
      const s = secret as GcpSecret;
      return { env: { GOOGLE_CREDENTIALS: s.serviceAccountJson, GOOGLE_PROJECT: s.projectId }, stack: { project: s.projectId } };
    }
  }
}
