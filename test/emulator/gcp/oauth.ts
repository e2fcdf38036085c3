import { generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import { form, json, type Request, type Response } from '../http.ts';
import { Draw } from '../random.ts';

/**
 * Google's OAuth for service accounts. The emulator makes a real RSA service-account key at start (the JSON a user
 * downloads from the console) and accepts what google-auth-library sends with it: a signed JWT-bearer assertion to
 * the token endpoint (POST /token, for a JWT client whose token request is redirected here), or a self-signed JWT
 * used directly as the bearer token (`useJWTAccessWithScope`). Signatures are verified against the key.
 */
export interface ServiceAccountKey {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  auth_uri: string;
  token_uri: string;
  auth_provider_x509_cert_url: string;
  client_x509_cert_url: string;
  universe_domain: string;
}

export type BearerCheck = { ok: true; email: string } | { ok: false };

export class GcpOAuth {
  private readonly accounts = new Map<string, KeyObject>();
  private readonly tokens = new Map<string, { email: string; expiresAt: number }>();

  /** Makes a service account of `projectId` and returns its key file contents. */
  createServiceAccount(projectId: string, name: string, seed: number): ServiceAccountKey {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const email = `${name}@${projectId}.iam.gserviceaccount.com`;
    this.accounts.set(email, publicKey);
    const draw = new Draw(seed);
    return {
      type: 'service_account',
      project_id: projectId,
      private_key_id: draw.hex(40),
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: email,
      client_id: draw.digits(21),
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: 'https://oauth2.googleapis.com/token',
      auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
      client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(email)}`,
      universe_domain: 'googleapis.com',
    };
  }

  /** Disables a service account: token requests fail and its tokens and self-signed JWTs stop working. */
  revoke(email: string): boolean {
    return this.accounts.delete(email);
  }

  token(req: Request): Response {
    const p = form(req.body);
    if (p.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      return json(400, { error: 'unsupported_grant_type', error_description: `Invalid grant_type: ${p.get('grant_type')}` });
    }
    const claims = this.verifyJwt(p.get('assertion') ?? '');
    if (!claims) return json(400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
    const token = `ya29.emulator-${randomBytes(48).toString('base64url')}`;
    this.tokens.set(token, { email: claims.iss, expiresAt: Date.now() + 3_599_000 });
    return json(200, { access_token: token, expires_in: 3599, token_type: 'Bearer' });
  }

  check(authorization: string | undefined): BearerCheck {
    const token = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1] ?? '';
    const issued = this.tokens.get(token);
    if (issued) return issued.expiresAt > Date.now() && this.accounts.has(issued.email) ? { ok: true, email: issued.email } : { ok: false };
    const claims = this.verifyJwt(token);
    return claims ? { ok: true, email: claims.iss } : { ok: false };
  }

  /** The claims of an unexpired RS256 JWT signed by a known service account, or undefined. */
  private verifyJwt(jwt: string): { iss: string } | undefined {
    const [header, payload, signature] = jwt.split('.');
    if (!header || !payload || !signature) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { iss?: string; exp?: number };
      const key = this.accounts.get(claims.iss ?? '');
      if (!key || !claims.exp || claims.exp * 1000 < Date.now()) return undefined;
      const valid = verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url'));
      return valid ? { iss: claims.iss! } : undefined;
    } catch {
      return undefined;
    }
  }
}
