import { ClientSecretCredential } from '@azure/identity';
import { JWT } from 'google-auth-library';
import type { Emulator } from './emulator.ts';

/**
 * How each real SDK is pointed at the emulator: nothing but endpoint, credentials and trust changes. Tests (and the
 * adapters' tests) build their clients from these.
 */

/** Config for any @aws-sdk/client-* constructor. The region goes into the SigV4 scope, which the emulator reads. */
export function awsClientConfig(emu: Emulator, region = 'us-east-1', credentials = emu.credentials.aws) {
  return {
    endpoint: emu.urls.aws,
    region,
    credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
  };
}

/** Trust for the Azure origin's self-signed certificate, for the credential and every ARM client. */
export function azureTls(emu: Emulator) {
  return { tlsOptions: { ca: emu.urls.caCert } };
}

/** @azure/identity's client-secret credential against the emulator's identity endpoints. */
export function azureCredential(emu: Emulator, secret = emu.credentials.azure.clientSecret): ClientSecretCredential {
  const a = emu.credentials.azure;
  // Without disableInstanceDiscovery MSAL asks the real login.microsoftonline.com which authorities exist.
  return new ClientSecretCredential(a.tenantId, a.clientId, secret, { authorityHost: a.authorityHost, disableInstanceDiscovery: true, ...azureTls(emu) });
}

/** Options for ComputeManagementClient / NetworkManagementClient. */
export function azureClientOptions(emu: Emulator) {
  return { endpoint: emu.urls.azure, ...azureTls(emu) };
}

/**
 * A service-account JWT client whose token request goes to the emulator: google-auth-library always posts to
 * Google's token URL (the key's token_uri is ignored), so an interceptor on the client's own transporter redirects it.
 */
export function gcpAuthClient(emu: Emulator, key = emu.credentials.gcp.serviceAccountKey): JWT {
  const client = new JWT({ email: key.client_email, key: key.private_key, keyId: key.private_key_id, scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
  client.transporter.interceptors.request.add({
    resolved: async (config) => {
      if (String(config.url) === 'https://oauth2.googleapis.com/token') config.url = new URL(emu.urls.gcpToken);
      return config;
    },
  });
  return client;
}

/** Options for any @google-cloud/compute client. Without protocol 'http' the client hangs silently. */
export function gcpClientOptions(emu: Emulator, authClient: JWT = gcpAuthClient(emu)) {
  const url = new URL(emu.urls.gcp);
  return { apiEndpoint: url.hostname, port: Number(url.port), protocol: 'http', authClient } as const;
}
