import type { Agent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { CostExplorerClient } from '@aws-sdk/client-cost-explorer';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { S3Client } from '@aws-sdk/client-s3';
import type { STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import type { CloudInput } from '../toolbox.ts';
import { CloudAuthError } from '../ports.ts';

/**
 * The AWS SDK clients of one credential, made on first use and kept: one EC2 client per region (the region is part
 * of the SigV4 scope), S3 clients per bucket region, one STS client in the home region, one Cost Explorer client in
 * us-east-1 (CE's only endpoint). SDKs are imported here, on demand, never at module load.
 */
export type AwsSecretInput =
  | { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  | { roleArn: string; externalId?: string; accessKeyId?: string; secretAccessKey?: string };

export class AwsClients {
  private readonly input: CloudInput;
  private readonly ec2 = new Map<string, EC2Client>();
  private readonly s3 = new Map<string, S3Client>();
  private sts?: STSClient;
  private ce?: CostExplorerClient;
  private credentials?: Promise<AwsCredentialIdentity | AwsCredentialIdentityProvider>;
  readonly home: string;
  private readonly base: Record<string, unknown>;
  private readonly requestHandler: { connectionTimeout: number; httpAgent: Agent; httpsAgent: HttpsAgent };

  /** `agents`: the outbound guard's (src/shared/outbound.ts), so every connection of every client is checked. */
  constructor(input: CloudInput, agents: { http: Agent; https: HttpsAgent }) {
    this.input = input;
    this.home = input.region || 'us-east-1';
    const endpoint = input.endpoints?.api;
    this.requestHandler = { connectionTimeout: 10_000, httpAgent: agents.http, httpsAgent: agents.https };
    this.base = {
      // Unset, the SDK resolves the endpoint itself, so AWS_ENDPOINT_URL(_EC2) and FIPS/dual-stack settings still apply.
      ...(endpoint && { endpoint }),
      // Throttling answers must reach the shared budget, not be retried inside the SDK (src/clouds/toolbox.ts).
      maxAttempts: 1,
      requestHandler: this.requestHandler,
    };
  }

  async ec2For(region: string): Promise<EC2Client> {
    let client = this.ec2.get(region);
    if (!client) {
      const { EC2Client } = await import('@aws-sdk/client-ec2');
      client = quiet(new EC2Client({ ...this.base, region, credentials: await this.credentialsProvider() }));
      this.ec2.set(region, client);
    }
    return client;
  }

  async s3For(region = this.home): Promise<S3Client> {
    let client = this.s3.get(region);
    if (!client) {
      const { S3Client } = await import('@aws-sdk/client-s3');
      const pathStyle = this.input.endpoints?.api !== undefined;
      client = quiet(new S3Client({ ...this.base, region, credentials: await this.credentialsProvider(), forcePathStyle: pathStyle, followRegionRedirects: !pathStyle }));
      this.s3.set(region, client);
    }
    return client;
  }

  async stsClient(): Promise<STSClient> {
    if (!this.sts) {
      const { STSClient } = await import('@aws-sdk/client-sts');
      this.sts = quiet(new STSClient({ ...this.base, region: this.home, credentials: await this.credentialsProvider() }));
    }
    return this.sts;
  }

  /** Cost Explorer answers in us-east-1 only, whatever the credential's home region. */
  async ceClient(): Promise<CostExplorerClient> {
    if (!this.ce) {
      const { CostExplorerClient } = await import('@aws-sdk/client-cost-explorer');
      this.ce = quiet(new CostExplorerClient({ ...this.base, region: 'us-east-1', credentials: await this.credentialsProvider() }));
    }
    return this.ce;
  }

  private credentialsProvider(): Promise<AwsCredentialIdentity | AwsCredentialIdentityProvider> {
    this.credentials ??= this.makeCredentials();
    return this.credentials;
  }

  private async makeCredentials(): Promise<AwsCredentialIdentity | AwsCredentialIdentityProvider> {
    const secret = this.input.secret as AwsSecretInput;
    if (!('roleArn' in secret)) {
      return { accessKeyId: secret.accessKeyId, secretAccessKey: secret.secretAccessKey, ...(secret.sessionToken && { sessionToken: secret.sessionToken }) };
    }
    const { fromTemporaryCredentials } = await import('@aws-sdk/credential-providers');
    const params = { RoleArn: secret.roleArn, RoleSessionName: `skyloft-${this.input.credentialId.slice(0, 40)}`, DurationSeconds: 3600 };
    if (secret.accessKeyId && secret.secretAccessKey) {
      // The tenant's own keys assume the tenant's role, at the tenant's STS endpoint if it names one.
      const endpoint = this.input.endpoints?.api;
      return shared(fromTemporaryCredentials({
        masterCredentials: { accessKeyId: secret.accessKeyId, secretAccessKey: secret.secretAccessKey },
        params: { ...params, ...(secret.externalId && { ExternalId: secret.externalId }) },
        clientConfig: { region: this.home, ...(endpoint && { endpoint }), requestHandler: this.requestHandler },
      }));
    }
    const host = this.input.awsHostIdentity;
    if (!host) {
      throw new CloudAuthError(
        "This credential has no keys, so it would be assumed with the worker host's own AWS identity, which this installation does not allow " +
          '(SKYLOFT_AWS_HOST_IDENTITY is not true). Rotate its secret to {roleArn, accessKeyId, secretAccessKey}, or have the operators enable host identity.',
      );
    }
    // The host's own identity (its default chain: instance profile, IRSA, environment) signs this AssumeRole, so it
    // goes to the installation's STS (the SDK's own endpoint resolution, AWS_ENDPOINT_URL_STS included), never to an
    // endpoint the tenant named; the ExternalId is the account's, so no tenant can borrow another's role.
    return shared(fromTemporaryCredentials({ params: { ...params, ExternalId: host.externalId }, clientConfig: { region: this.home } }));
  }
}

/**
 * Without the SDK's logger middleware: we give the SDK no logger, yet that middleware copies every answer through the
 * operation's schema to mask sensitive fields before handing it to the no-op logger (7% of a sync's CPU).
 */
function quiet<C extends { middlewareStack: { remove(name: string): boolean } }>(client: C): C {
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}

/**
 * Every client memoizes its credentials on its own, so one EC2 client per region would each call AssumeRole: share
 * one set of temporary credentials across them and refresh it five minutes before it expires.
 */
function shared(provider: AwsCredentialIdentityProvider): AwsCredentialIdentityProvider {
  let current: Promise<AwsCredentialIdentity> | undefined;
  return async () => {
    const held = current && (await current.catch(() => undefined));
    if (held && (!held.expiration || held.expiration.getTime() - Date.now() > 5 * 60_000)) return held;
    current = provider();
    return current;
  };
}
