import type { ComputeManagementClient } from '@azure/arm-compute';
import type { NetworkManagementClient } from '@azure/arm-network';
import type { ClientSecretCredential } from '@azure/identity';
import type { AdapterDeps, CloudCall, CloudInput, OpenedCloud } from '../toolbox.ts';
import { CloudUnavailableError, type ObservedItem, type Scope } from '../ports.ts';
import { azureCost } from './cost.ts';
import { guarded, type Agents } from './guard.ts';
import { translateAzureError } from './errors.ts';
import { diskItem, virtualMachineItem, virtualNetworkItem } from './normalize.ts';

/**
 * Azure: VMs and managed disks (@azure/arm-compute 25) and virtual networks (@azure/arm-network) of one
 * subscription, through @azure/identity's client-secret credential.
 *
 * Scopes: ARM lists these subscription-wide, one nextLink chain across every location, and has no per-location
 * list. One scope per kind (region 'global') is therefore what one listing completes: a scope per location would
 * have to read the whole subscription once per location (60-odd times with every location enabled) or call a scope
 * complete that only saw part of the chain. Each item's location is in metadata; the credential's `regions`, when
 * set, filter locations client-side within the one complete listing.
 */
export interface AzureSecretInput {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  subscriptionId: string;
}

type Page<T> = T[] & { continuationToken?: string };
type Lister = (clients: Clients, token: string | undefined, signal: AbortSignal) => Promise<Page<unknown> | undefined>;
interface Clients {
  compute: ComputeManagementClient;
  network: NetworkManagementClient;
}

/** One page of an SDK pager: byPage with the previous page's nextLink as continuation token. */
const firstOf = async <T>(pages: AsyncIterableIterator<Page<T>>) => (await pages.next()).value as Page<T> | undefined;
const from = (token: string | undefined) => (token ? { continuationToken: token } : undefined);

const KINDS: Record<string, { service: string; page: Lister; item: (raw: never) => ObservedItem }> = {
  'compute:virtualMachine': {
    service: 'compute',
    // statusOnly=true adds each VM's power state to the same list call, at no extra request.
    page: (c, t, s) => firstOf(c.compute.virtualMachines.listAll({ statusOnly: 'true', abortSignal: s }).byPage(from(t))),
    item: virtualMachineItem,
  },
  'compute:disk': { service: 'compute', page: (c, t, s) => firstOf(c.compute.disks.list({ abortSignal: s }).byPage(from(t))), item: diskItem },
  'network:virtualNetwork': {
    service: 'network',
    page: (c, t, s) => firstOf(c.network.virtualNetworks.listAll({ abortSignal: s }).byPage(from(t))),
    item: virtualNetworkItem,
  },
};

export function openAzure(input: CloudInput, deps: AdapterDeps): OpenedCloud {
  const secret = input.secret as AzureSecretInput;
  const call: CloudCall = deps.caller(translateAzureError);
  const key = (service: string) => `${input.credentialId}:global:${service}`;
  const locations = input.regions?.length ? new Set(input.regions.map(locationKey)) : undefined;
  const arm = new URL(input.endpoints?.api ?? 'https://management.azure.com').origin;
  let clients: Promise<Clients> | undefined;
  // One credential (and so one token cache) for the ARM clients and the cost queries.
  let credential: Promise<ClientSecretCredential> | undefined;
  const signIn = () => (credential ??= createCredential(input, secret, deps.agents));
  const open = () => (clients ??= createClients(input, secret, signIn, deps.agents));

  return {
    inventory: {
      scopes: async (): Promise<Scope[]> => Object.keys(KINDS).map((kind) => ({ region: 'global', kind })),
      async *list(scope: Scope, signal?: AbortSignal): AsyncGenerator<ObservedItem[]> {
        const kind = KINDS[scope.kind];
        if (!kind) throw new Error(`Unknown Azure inventory kind '${scope.kind}'`);
        const c = await open();
        let token: string | undefined;
        do {
          const page = await call(key(kind.service), (s) => kind.page(c, token, s), signal);
          token = page?.continuationToken;
          // The SDK follows a nextLink verbatim: one leading off the Resource Manager origin would carry our bearer
          // token to wherever the answer pointed.
          if (token && new URL(token).origin !== arm) throw new CloudUnavailableError(`Azure answered a nextLink outside ${arm}`);
          const items = (page ?? []).map((raw) => kind.item(raw as never));
          const kept = locations ? items.filter((i) => locations.has(locationKey(String(i.metadata.location ?? '')))) : items;
          if (kept.length > 0) yield kept;
        } while (token);
      },
    },
    health: {
      // One authenticated, subscription-scoped page: it proves the token, the secret and the role assignment.
      async probe(signal?: AbortSignal): Promise<void> {
        const c = await open();
        await call(key('network'), (s) => firstOf(c.network.virtualNetworks.listAll({ abortSignal: s }).byPage()), signal);
      },
    },
    cost: azureCost(input, secret, signIn, deps),
  };
}

/** 'West Europe' and 'westeurope' name the same location. */
const locationKey = (l: string) => l.toLowerCase().replace(/\s+/g, '');

async function createCredential(input: CloudInput, secret: AzureSecretInput, agents: Agents): Promise<ClientSecretCredential> {
  const { ClientSecretCredential } = await import('@azure/identity');
  const authorityHost = input.endpoints?.authorityHost;
  return new ClientSecretCredential(secret.tenantId, secret.clientId, secret.clientSecret, {
    ...guarded(agents),
    // With its own authority, MSAL would otherwise ask login.microsoftonline.com whether that authority exists.
    ...(authorityHost && { authorityHost, disableInstanceDiscovery: true }),
  });
}

async function createClients(input: CloudInput, secret: AzureSecretInput, signIn: () => Promise<ClientSecretCredential>, agents: Agents): Promise<Clients> {
  const [credential, { ComputeManagementClient }, { NetworkManagementClient }] = await Promise.all([
    signIn(),
    import('@azure/arm-compute'),
    import('@azure/arm-network'),
  ]);
  const api = input.endpoints?.api;
  const options = {
    ...guarded(agents),
    // Throttling (429 + Retry-After) must reach the shared budget rather than be retried inside the pipeline.
    retryOptions: { maxRetries: 0 },
    // Sovereign clouds take tokens for their own Resource Manager audience, which is the endpoint's origin.
    ...(api && { endpoint: api, credentials: { scopes: [`${new URL(api).origin}/.default`] } }),
  };
  return {
    compute: new ComputeManagementClient(credential, secret.subscriptionId, options),
    network: new NetworkManagementClient(credential, secret.subscriptionId, options),
  };
}
