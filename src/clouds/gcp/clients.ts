import type { CallOptions } from 'google-gax';
import type { JWT } from 'google-auth-library';
import type { DisksClient } from '@google-cloud/compute/build/src/v1/disks_client.js';
import type { InstancesClient } from '@google-cloud/compute/build/src/v1/instances_client.js';
import type { NetworksClient } from '@google-cloud/compute/build/src/v1/networks_client.js';
import type { RegionsClient } from '@google-cloud/compute/build/src/v1/regions_client.js';
import type { AdapterDeps, CloudInput } from '../toolbox.ts';

/** A GCP credential's secret, as src/clouds/gcp/descriptor.ts validated it. */
export interface GcpSecretInput {
  serviceAccountJson: string;
  projectId: string;
}

/**
 * The Compute clients of one project. Deep imports, on demand: the package root loads every Compute client (about
 * 2 s and 250 MB), one client file about 0.4 s.
 *
 * Auth: self-signed JWTs (`useJWTAccessWithScope`), the service account signing each bearer token itself. Google's
 * APIs accept them in production, no token endpoint is involved (so a key's ignored `token_uri` and a token fetch
 * that gax would retry for ten minutes are both out of the picture), and a local endpoint needs nothing redirected.
 */
export interface GcpClients {
  networks: NetworksClient;
  regions: RegionsClient;
  /** One page of an aggregated list: the `items` map (`zones/<zone>` → list) and the next request, if any. */
  aggregatedPage: (client: 'instances' | 'disks', request: AggregatedRequest, options: CallOptions) => Promise<[Record<string, unknown> | null, AggregatedRequest | null]>;
}

export interface AggregatedRequest {
  project: string;
  maxResults: number;
  pageToken?: string;
}

interface ServiceAccountKey {
  client_email?: string;
  private_key?: string;
  private_key_id?: string;
}

/**
 * The service account's self-signed-JWT auth client, shared by the Compute clients and BigQuery (cost.ts). Every
 * request of both goes out through its transporter (gax calls `authClient.fetch`, cost.ts `authClient.request`),
 * whose last request interceptor puts the outbound guard's agents on it, replacing the agent gax sets per request,
 * and follows no redirect (node-fetch's `follow`), which could lead to a host nobody allowed.
 */
export async function gcpAuthClient(secret: GcpSecretInput, agents: AdapterDeps['agents']): Promise<JWT> {
  const key = JSON.parse(secret.serviceAccountJson) as ServiceAccountKey;
  if (!key.client_email || !key.private_key) throw new Error('it needs client_email and private_key (a service account key file)');
  const { JWT } = await import('google-auth-library');
  const authClient = new JWT({
    email: key.client_email,
    key: key.private_key,
    ...(key.private_key_id && { keyId: key.private_key_id }),
    scopes: ['https://www.googleapis.com/auth/cloud-platform'],
  });
  authClient.useJWTAccessWithScope = true;
  authClient.transporter.interceptors.request.add({
    resolved: async (config) => Object.assign(config, { agent: (url: URL) => (url.protocol === 'http:' ? agents.http : agents.https), follow: 0 }),
  });
  return authClient;
}

export async function openGcpClients(input: CloudInput, secret: GcpSecretInput, agents: AdapterDeps['agents']): Promise<GcpClients> {
  const [authClient, { InstancesClient }, { DisksClient }, { NetworksClient }, { RegionsClient }] = await Promise.all([
    gcpAuthClient(secret, agents),
    import('@google-cloud/compute/build/src/v1/instances_client.js'),
    import('@google-cloud/compute/build/src/v1/disks_client.js'),
    import('@google-cloud/compute/build/src/v1/networks_client.js'),
    import('@google-cloud/compute/build/src/v1/regions_client.js'),
  ]);
  const options = { authClient, projectId: secret.projectId, ...endpointOptions(input.endpoints?.api) };
  const instances = new InstancesClient(options);
  const disks = new DisksClient(options);
  const aggregated = { instances, disks } as Record<'instances' | 'disks', InstancesClient | DisksClient>;
  return {
    networks: new NetworksClient(options),
    regions: new RegionsClient(options),
    async aggregatedPage(client, request, callOptions) {
      const c = aggregated[client];
      await c.initialize();
      // aggregatedListAsync hides each page's nextPageToken and dies with the first failed page, so a throttled
      // page could not be retried alone; the client's own paged call (what the async iterator calls per page)
      // answers [items, nextRequest, rawResponse] with autoPaginate false.
      const [items, next] = (await c.innerApiCalls.aggregatedList!(request, callOptions)) as [Record<string, unknown> | null, AggregatedRequest | null];
      return [items, next];
    },
  };
}

/** `http://127.0.0.1:4568` → the client's apiEndpoint/port/protocol (without protocol 'http' it hangs on TLS). */
function endpointOptions(api: string | undefined) {
  if (!api) return {};
  const url = new URL(api);
  const protocol = url.protocol.replace(':', '');
  return { apiEndpoint: url.hostname, port: Number(url.port || (protocol === 'http' ? 80 : 443)), protocol };
}
