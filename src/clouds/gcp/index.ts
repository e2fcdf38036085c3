import type { AdapterDeps, CloudCall, CloudInput, OpenedCloud } from '../toolbox.ts';
import { DEFAULT_TIMEOUT_MS, positive } from '../toolbox.ts';
import { CloudAuthError, type ObservedItem, type Scope } from '../ports.ts';
import { openGcpClients, type GcpClients, type GcpSecretInput } from './clients.ts';
import { openGcpCost } from './cost.ts';
import { translateGcpError } from './errors.ts';
import { diskItem, instanceItem, networkItem, regionOfZone } from './normalize.ts';

/**
 * GCP: Compute Engine instances and disks (aggregated lists) and VPC networks of one project.
 *
 * Scopes: an aggregated list walks every zone of the project in one pageToken chain, so a zone's or region's items
 * are complete only when the whole chain is. One scope per kind (region 'global') is what one listing completes; a
 * scope per region would re-read the whole project per region. Each item's zone and region are in metadata; the
 * credential's `regions`, when set, filter client-side within the complete listing. Networks are global anyway.
 */
type AggregatedKind = { client: 'instances' | 'disks'; field: 'instances' | 'disks'; item: typeof instanceItem };
const AGGREGATED: Record<string, AggregatedKind> = {
  'gce:instance': { client: 'instances', field: 'instances', item: instanceItem },
  'gce:disk': { client: 'disks', field: 'disks', item: diskItem as typeof instanceItem },
};
const NETWORK_KIND = 'gce:network';

export function openGcp(input: CloudInput, deps: AdapterDeps): OpenedCloud {
  const secret = input.secret as GcpSecretInput;
  const project = secret.projectId;
  const call: CloudCall = deps.caller(translateGcpError);
  const key = `${input.credentialId}:global:compute`;
  const maxResults = Math.min(500, Math.floor(positive(input.options?.pageSize) ?? 500));
  // gax's own deadline too, and no gax retries: throttling goes to the budget, transient errors to src/clouds/toolbox.ts.
  const callOptions = { timeout: positive(input.options?.timeoutMs) ?? DEFAULT_TIMEOUT_MS, retry: null, autoPaginate: false };
  const regions = input.regions?.length ? new Set(input.regions) : undefined;
  let clients: Promise<GcpClients> | undefined;
  const open = () => (clients ??= openGcpClients(input, secret, deps.agents).catch((err) => {
    clients = undefined;
    throw new CloudAuthError(`The GCP service account JSON is not usable: ${(err as Error).message}`, err);
  }));

  async function* aggregated(kind: AggregatedKind, signal?: AbortSignal): AsyncGenerator<ObservedItem[]> {
    const c = await open();
    let pageToken: string | undefined;
    do {
      const request = { project, maxResults, ...(pageToken && { pageToken }) };
      const [byScope, next] = await call(key, () => c.aggregatedPage(kind.client, request, callOptions), signal);
      pageToken = next?.pageToken || undefined;
      const items: ObservedItem[] = [];
      for (const [scopeName, list] of Object.entries(byScope ?? {})) {
        const zone = scopeName.startsWith('zones/') ? scopeName.slice('zones/'.length) : null;
        if (regions && !regions.has(regionOfZone(zone) ?? '')) continue;
        for (const raw of (list as Record<string, unknown[] | undefined>)[kind.field] ?? []) items.push(kind.item(raw as never, zone));
      }
      if (items.length > 0) yield items;
    } while (pageToken);
  }

  async function* networks(signal?: AbortSignal): AsyncGenerator<ObservedItem[]> {
    const c = await open();
    let pageToken: string | undefined;
    do {
      const request = { project, maxResults, ...(pageToken && { pageToken }) };
      const [page, next] = await call(key, () => c.networks.list(request, callOptions), signal);
      pageToken = next?.pageToken || undefined;
      if (page.length > 0) yield page.map(networkItem);
    } while (pageToken);
  }

  return {
    inventory: {
      scopes: async (): Promise<Scope[]> => [...Object.keys(AGGREGATED), NETWORK_KIND].map((kind) => ({ region: 'global', kind })),
      async *list(scope: Scope, signal?: AbortSignal): AsyncGenerator<ObservedItem[]> {
        const kind = AGGREGATED[scope.kind];
        if (kind) yield* aggregated(kind, signal);
        else if (scope.kind === NETWORK_KIND) yield* networks(signal);
        else throw new Error(`Unknown GCP inventory kind '${scope.kind}'`);
      },
    },
    health: {
      async probe(signal?: AbortSignal): Promise<void> {
        const c = await open();
        await call(key, () => c.regions.list({ project, maxResults: 1 }, callOptions), signal);
      },
    },
    cost: openGcpCost(input, secret, deps),
  };
}
