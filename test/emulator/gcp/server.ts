import type { Fault, Faults } from '../faults.ts';
import { InvalidPageToken, type Fleet, type Item } from '../fleet.ts';
import { json, type Handler, type Response } from '../http.ts';
import type { Resolved } from '../options.ts';
import type { Spend } from '../spend.ts';
import { bigQueryHandler, isBigQuery } from './cost.ts';
import type { GcpOAuth } from './oauth.ts';
import { diskJson, instanceJson, networkJson, regionJson, regionOf, type GceContext } from './resources.ts';

/**
 * Compute Engine v1 REST on one plain-http origin (the client needs `protocol: 'http'`), plus the OAuth token
 * endpoint at /token. Lists page with maxResults (at most 500, GCE's own limit) and pageToken/nextPageToken;
 * aggregated lists answer `items: { 'zones/<zone>': { instances: [...] } }` and, as GCE does, a NO_RESULTS_ON_PAGE
 * warning for each configured zone with nothing on the page.
 */
const AGGREGATED: Record<string, { kind: string; field: string; listKind: string; render: (it: Item, c: GceContext) => object }> = {
  instances: { kind: 'instances', field: 'instances', listKind: 'compute#instanceAggregatedList', render: instanceJson },
  disks: { kind: 'disks', field: 'disks', listKind: 'compute#diskAggregatedList', render: diskJson },
};

const ROUTE = /^\/compute\/v1\/projects\/([^/]+)\/(aggregated\/(instances|disks)|global\/networks|regions)\/?$/;

export function gcpHandler(fleet: Fleet, spend: Spend, faults: Faults, oauth: GcpOAuth, opts: Resolved): Handler {
  const g = opts.gcp;
  const regions = [...new Set(g.zones.map(regionOf))];
  const bigquery = bigQueryHandler(spend, faults, oauth, opts);
  return async (req): Promise<Response> => {
    const path = req.url.pathname;
    if (isBigQuery(path)) return bigquery(req);
    const route = ROUTE.exec(path);
    const isToken = req.method === 'POST' && (path === '/token' || path === '/oauth2/v4/token');
    const operation = isToken ? 'token'
      : route?.[3] ? `${route[3]}.aggregatedList` : route?.[2] === 'global/networks' ? 'networks.list' : route ? 'regions.list' : 'unknown';
    const fault = await faults.enter('gcp', operation);
    if (fault) return faultResponse(fault, operation);
    if (isToken) return oauth.token(req);

    if (!oauth.check(req.headers.authorization).ok) {
      return gceError(401, 'UNAUTHENTICATED', 'authError', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.', 'global');
    }
    if (!route || req.method !== 'GET') return gceError(404, 'NOT_FOUND', 'notFound', `The emulator has no route for ${req.method} ${path}`);
    const project = route[1]!;
    if (project !== g.projectId) return gceError(404, 'NOT_FOUND', 'notFound', `The resource 'projects/${project}' was not found`);

    const q = req.url.searchParams;
    const maxResults = Number(q.get('maxResults') ?? 500);
    if (!Number.isInteger(maxResults) || maxResults < 0 || maxResults > 500) {
      return gceError(400, 'INVALID_ARGUMENT', 'invalid', `Invalid value for field 'maxResults': '${q.get('maxResults')}'. Must be less than or equal to 500`);
    }
    const ctx: GceContext = { project, fleet };
    const self = `https://www.googleapis.com${path}`;
    if (operation === 'regions.list') {
      const items = regions.map((r, i) => regionJson(r, g.zones.filter((z) => regionOf(z) === r), project, i));
      return json(200, { kind: 'compute#regionList', id: `projects/${project}/regions`, items, selfLink: self });
    }
    const spec = route[3] ? AGGREGATED[route[3]]! : undefined;
    let page;
    try {
      page = fleet.page(fleet.scopes('gcp', spec?.kind ?? 'networks'), q.get('pageToken') || undefined, maxResults || 500);
    } catch (err) {
      if (err instanceof InvalidPageToken) return gceError(400, 'INVALID_ARGUMENT', 'invalid', `Invalid value for field 'pageToken': '${q.get('pageToken')}'.`);
      throw err;
    }
    const next = page.nextToken ? { nextPageToken: page.nextToken } : {};
    if (!spec) {
      const items = page.items.map((it) => networkJson(it, ctx, regions));
      return json(200, { kind: 'compute#networkList', id: `projects/${project}/global/networks`, items, ...next, selfLink: self });
    }
    const items: Record<string, object> = {};
    for (const zone of g.zones) {
      const inZone = page.items.filter((it) => it.scope.region === zone);
      items[`zones/${zone}`] = inZone.length > 0
        ? { [spec.field]: inZone.map((it) => spec.render(it, ctx)) }
        : { warning: { code: 'NO_RESULTS_ON_PAGE', message: `There are no results for scope 'zones/${zone}' on this page.`, data: [{ key: 'scope', value: `zones/${zone}` }] } };
    }
    return json(200, { kind: spec.listKind, id: `projects/${project}/aggregated/${spec.kind}`, items, ...next, selfLink: self });
  };
}

export function gceError(code: number, status: string, reason: string, message: string, domain = 'global', details?: object[]): Response {
  return json(code, { error: { code, message, errors: [{ message, domain, reason }], status, ...(details ? { details } : {}) } });
}

function faultResponse(f: Fault, operation: string): Response {
  if (operation === 'token') {
    if (f.kind === 'auth') return json(400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
    if (f.kind === 'throttle') return json(429, { error: 'rate_limit_exceeded', error_description: 'Rate limit exceeded.' });
    return json(f.status ?? 500, { error: 'internal_failure', error_description: 'Backend error.' });
  }
  if (f.kind === 'throttle') {
    const message = "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute' of service 'compute.googleapis.com'.";
    return gceError(429, 'RESOURCE_EXHAUSTED', 'rateLimitExceeded', message, 'usageLimits', [{
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason: 'RATE_LIMIT_EXCEEDED',
      domain: 'googleapis.com',
      metadata: { service: 'compute.googleapis.com', quota_metric: 'compute.googleapis.com/read_requests', quota_limit: 'ReadRequestsPerMinutePerProject' },
    }]);
  }
  if (f.kind === 'auth') {
    return gceError(401, 'UNAUTHENTICATED', 'authError', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.');
  }
  const status = f.status ?? 500;
  return status === 503
    ? gceError(503, 'UNAVAILABLE', 'backendError', 'The service is currently unavailable.')
    : gceError(status, 'INTERNAL', 'backendError', 'Internal error. Please try again or contact Google Support.');
}
