import type { TerraformCloudEnv } from '../../clouds/descriptor.ts';
import { providerOf } from '../../clouds/registry.ts';
import { UnprocessableError } from '../../shared/errors.ts';
import type { OutboundGuard } from '../../shared/outbound.ts';
import type { Credential, CredentialSecret } from '../credentials/index.ts';

/**
 * How a credential reaches terraform: environment variables only (never the synthesized config), plus the stack
 * settings its endpoints imply, as its provider's descriptor says. Every value here is also redacted from terraform's
 * output by the runner.
 *
 * Terraform's providers make their own connections, which the outbound guard's agents cannot see: for terraform only
 * the request-time check holds, repeated here against the current SKYLOFT_ALLOWED_ENDPOINTS (an endpoint stored before
 * it changed fails the operation). A name that later resolves to a link-local address is not caught here; the GCP key
 * checks at request time (no path, no external_account, Google's token_uri) keep GOOGLE_CREDENTIALS from reading the
 * host's files or URLs.
 */
export function terraformCloudEnv(credential: Credential, secret: CredentialSecret, region: string, outbound: OutboundGuard): TerraformCloudEnv {
  const refused = outbound.endpointProblems(credential.endpoints);
  if (refused.length > 0) throw new UnprocessableError(`The credential's ${refused.map((p) => `${p.path} ${p.message}`).join('; ')}`);
  return providerOf(credential.provider).terraformEnv(secret, { region, endpoints: credential.endpoints });
}
