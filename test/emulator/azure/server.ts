import type { Fault, Faults } from '../faults.ts';
import { InvalidPageToken, type Fleet, type Item, type Scope } from '../fleet.ts';
import { json, type Handler, type Request, type Response } from '../http.ts';
import type { Resolved } from '../options.ts';
import type { Spend } from '../spend.ts';
import { COST_OPERATION, COST_PATH, costFault, costQuery } from './cost.ts';
import { aadError, armError, type AzureIdentity } from './identity.ts';
import { diskJson, locationJson, resourceGroup, virtualMachineJson, virtualNetworkJson, type ArmContext } from './resources.ts';

/**
 * Azure on one TLS origin: the identity endpoints under /{tenant}/ and Resource Manager under /subscriptions/.
 * Lists page with `{ value, nextLink }`; nextLink is absolute and carries the request's own query plus $skiptoken,
 * so the SDK follows it verbatim. `$top` sets the page size, otherwise `azure.pageSize`.
 */
const LISTS: Record<string, { kind: string; operation: string; render: (it: Item, c: ArmContext) => object }> = {
  'Microsoft.Compute/virtualMachines': { kind: 'virtualMachines', operation: 'virtualMachines.list', render: virtualMachineJson },
  'Microsoft.Compute/disks': { kind: 'disks', operation: 'disks.list', render: diskJson },
  'Microsoft.Network/virtualNetworks': { kind: 'virtualNetworks', operation: 'virtualNetworks.list', render: virtualNetworkJson },
};

const LIST_PATH = /^\/subscriptions\/([^/]+)(?:\/resourceGroups\/([^/]+))?\/providers\/(Microsoft\.\w+\/\w+)\/?$/i;

export function azureHandler(fleet: Fleet, spend: Spend, faults: Faults, identity: AzureIdentity, opts: Resolved): Handler {
  const a = opts.azure;
  return async (req): Promise<Response> => {
    const path = req.url.pathname;
    const oidc = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(path);
    const token = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(path);
    const cost = COST_PATH.exec(path);
    const list = cost ? null : LIST_PATH.exec(path);
    const subscription = /^\/subscriptions(?:\/([^/]+))?(\/locations)?\/?$/.exec(path);
    const operation = cost ? COST_OPERATION : oidc ? 'openid-configuration' : token ? 'token' : list ? (LISTS[list[3]!]?.operation ?? 'unknown')
      : subscription?.[2] ? 'locations.list' : subscription?.[1] ? 'subscriptions.get' : subscription ? 'subscriptions.list' : 'unknown';
    const fault = await faults.enter('azure', operation);
    if (fault) return (cost && costFault(fault)) || faultResponse(fault, operation);

    if (oidc && req.method === 'GET') return identity.openidConfiguration(req.url.origin, oidc[1]!);
    if (token && req.method === 'POST') return identity.token(req, token[1]!);

    const auth = identity.check(req.headers.authorization);
    if (!auth.ok) return auth.response;
    if (cost) return costQuery(req, cost[1]!, spend, a);
    if (req.method !== 'GET') return armError(405, 'MethodNotAllowed', `The emulator only implements list reads, not ${req.method} ${path}`);
    if (!req.url.searchParams.get('api-version')) {
      return armError(400, 'MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is required for all requests.');
    }
    const subId = list?.[1] ?? subscription?.[1];
    if (subId !== undefined && subId.toLowerCase() !== a.subscriptionId.toLowerCase()) {
      return armError(404, 'SubscriptionNotFound', `The subscription '${subId}' could not be found.`);
    }
    if (list) return listResources(req, list[2], list[3]!, fleet, a);
    if (subscription?.[2]) return json(200, { value: a.locations.map((l) => locationJson(l, a.subscriptionId)) });
    if (subscription?.[1]) return json(200, subscriptionJson(a));
    if (subscription) return json(200, { value: [subscriptionJson(a)], count: { type: 'Total', value: 1 } });
    return armError(404, 'InvalidResourceType', `The emulator has no route for '${path}'.`);
  };
}

function listResources(req: Request, group: string | undefined, type: string, fleet: Fleet, a: Resolved['azure']): Response {
  const spec = Object.entries(LISTS).find(([t]) => t.toLowerCase() === type.toLowerCase())?.[1];
  if (!spec) return armError(404, 'InvalidResourceType', `The resource type '${type}' could not be found in the emulator.`);
  let scopes: Scope[] = fleet.scopes('azure', spec.kind);
  if (group !== undefined) {
    scopes = scopes.filter((s) => resourceGroup(s.region).toLowerCase() === group.toLowerCase());
    if (scopes.length === 0) return armError(404, 'ResourceGroupNotFound', `Resource group '${group}' could not be found.`);
  }
  const q = req.url.searchParams;
  const top = Number(q.get('$top') ?? a.pageSize);
  if (!Number.isInteger(top) || top < 1) return armError(400, 'InvalidParameter', `The value of '$top' must be a positive integer.`);
  let page;
  try {
    page = fleet.page(scopes, q.get('$skiptoken') ?? undefined, top);
  } catch (err) {
    if (err instanceof InvalidPageToken) return armError(400, 'InvalidSkipToken', 'The provided $skiptoken is invalid.');
    throw err;
  }
  const expand = q.get('$expand') ?? '';
  const ctx: ArmContext = { subscriptionId: a.subscriptionId, fleet, instanceView: q.get('statusOnly') === 'true' || /instanceView/i.test(expand) };
  const value = page.items.map((it) => spec.render(it, ctx));
  if (!page.nextToken) return json(200, { value });
  const next = new URL(req.url);
  next.searchParams.set('$skiptoken', page.nextToken);
  return json(200, { value, nextLink: next.toString() });
}

function subscriptionJson(a: Resolved['azure']): object {
  return {
    id: `/subscriptions/${a.subscriptionId}`,
    authorizationSource: 'RoleBased',
    managedByTenants: [],
    subscriptionId: a.subscriptionId,
    tenantId: a.tenantId,
    displayName: 'Skyloft Emulator',
    state: 'Enabled',
    subscriptionPolicies: { locationPlacementId: 'Public_2014-09-01', quotaId: 'PayAsYouGo_2014-09-01', spendingLimit: 'Off' },
  };
}

/** ARM's throttling answer is 429 with Retry-After; the identity platform answers in its own error shape. */
function faultResponse(f: Fault, operation: string): Response {
  const identity = operation === 'token' || operation === 'openid-configuration';
  if (f.kind === 'throttle') {
    const headers = { 'retry-after': String(f.retryAfterSeconds ?? 1) };
    if (identity) return aadError(429, 'temporarily_unavailable', 50196, 'The server is busy, retry later.', headers);
    return armError(429, 'TooManyRequests', 'The request is being throttled as the limit has been reached for operation type - Read_ObservationWindow_00:05:00. For more information, see - https://aka.ms/srpthrottlinglimits', {
      ...headers,
      'x-ms-ratelimit-remaining-subscription-reads': '0',
    });
  }
  if (f.kind === 'auth') {
    if (identity) return aadError(401, 'invalid_client', 7000222, 'The provided client secret keys are expired or revoked.');
    return armError(401, 'InvalidAuthenticationToken', 'The access token is invalid.');
  }
  const status = f.status ?? 500;
  if (identity) return aadError(status, 'temporarily_unavailable', 90033, 'A transient error has occurred. Please try again.');
  return status === 503
    ? armError(503, 'ServiceUnavailable', 'The service is temporarily unavailable. Please try again later.')
    : armError(status, 'InternalServerError', 'Encountered internal server error. Please try again.');
}
