import { randomBytes, randomUUID } from 'node:crypto';
import { form, json, type Request, type Response } from '../http.ts';
import type { Resolved } from '../options.ts';

/**
 * The Microsoft identity platform as MSAL (inside @azure/identity's ClientSecretCredential) meets it with
 * `authorityHost` set and instance discovery disabled: the tenant's OpenID configuration, then a client-credentials
 * token request. Access tokens are JWT-shaped (MSAL and tools may decode them) but only the emulator checks them.
 */
interface Client {
  tenantId: string;
  secret: string;
}

export type TokenCheck = { ok: true } | { ok: false; response: Response };

const ARM_AUDIENCE = 'https://management.azure.com';

export class AzureIdentity {
  private readonly clients = new Map<string, Client>();
  private readonly tokens = new Map<string, { clientId: string; expiresAt: number }>();
  /** A tenant outlives its app registrations, as in Entra ID: revoking the last one leaves it known. */
  private readonly tenants = new Set<string>();

  constructor(opts: Resolved['azure']) {
    this.addClient(opts.clientId, opts.tenantId, opts.clientSecret);
  }

  addClient(clientId: string, tenantId: string, secret: string): void {
    this.clients.set(clientId, { tenantId, secret });
    this.tenants.add(tenantId);
  }

  /** Revokes an app registration: new token requests fail and its issued tokens stop working. */
  revoke(clientId: string): boolean {
    return this.clients.delete(clientId);
  }

  knowsTenant(tenantId: string): boolean {
    return this.tenants.has(tenantId);
  }

  openidConfiguration(origin: string, tenant: string): Response {
    if (!this.knowsTenant(tenant)) return aadError(400, 'invalid_tenant', 90002, `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID.`);
    const base = `${origin}/${tenant}`;
    return json(200, {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${base}/v2.0`,
      request_uri_parameter_supported: false,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      tenant_region_scope: 'NA',
      cloud_instance_name: 'microsoftonline.com',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: 'graph.microsoft.com',
    });
  }

  token(req: Request, tenant: string): Response {
    const p = form(req.body);
    const clientId = p.get('client_id') ?? '';
    if (p.get('grant_type') !== 'client_credentials') {
      return aadError(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${p.get('grant_type')}'.`);
    }
    if (!this.knowsTenant(tenant)) return aadError(400, 'invalid_request', 90002, `Tenant '${tenant}' not found.`);
    const client = this.clients.get(clientId);
    if (!client || client.tenantId !== tenant) {
      return aadError(400, 'unauthorized_client', 700016, `Application with identifier '${clientId}' was not found in the directory '${tenant}'.`);
    }
    if (p.get('client_secret') !== client.secret) {
      return aadError(401, 'invalid_client', 7000215, 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.');
    }
    const expiresIn = 3599;
    const now = Math.floor(Date.now() / 1000);
    const claims = { aud: ARM_AUDIENCE, iss: `https://sts.windows.net/${tenant}/`, iat: now, nbf: now, exp: now + expiresIn, appid: clientId, tid: tenant, oid: randomUUID() };
    const token = [{ typ: 'JWT', alg: 'RS256' }, claims].map((part) => Buffer.from(JSON.stringify(part)).toString('base64url')).join('.') + `.${randomBytes(32).toString('base64url')}`;
    this.tokens.set(token, { clientId, expiresAt: (now + expiresIn) * 1000 });
    return json(200, { token_type: 'Bearer', expires_in: expiresIn, ext_expires_in: expiresIn, access_token: token });
  }

  /** Checks an ARM request's bearer token, answering ARM's own 401 when it is missing, unknown, revoked or expired. */
  check(authorization: string | undefined): TokenCheck {
    const token = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1];
    if (!token) return { ok: false, response: armError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.") };
    const issued = this.tokens.get(token);
    if (!issued || !this.clients.has(issued.clientId)) return { ok: false, response: armError(401, 'InvalidAuthenticationToken', 'The access token is invalid.') };
    if (issued.expiresAt < Date.now()) {
      return { ok: false, response: armError(401, 'ExpiredAuthenticationToken', 'The access token expiry UTC time is earlier than current UTC time.') };
    }
    return { ok: true };
  }
}

export function aadError(status: number, error: string, code: number, description: string, headers: Record<string, string> = {}): Response {
  const traceId = randomUUID();
  return json(status, {
    error,
    error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${randomUUID()} Timestamp: ${new Date().toISOString()}`,
    error_codes: [code],
    timestamp: new Date().toISOString(),
    trace_id: traceId,
  }, headers);
}

export function armError(status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  return json(status, { error: { code, message } }, { 'x-ms-request-id': randomUUID(), 'x-ms-correlation-request-id': randomUUID(), ...headers });
}
