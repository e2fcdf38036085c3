import { createHash, randomBytes } from 'node:crypto';
import type { Em } from '../../db/orm.ts';
import type { Actor } from '../../shared/actor.ts';
import { newId } from '../../shared/ids.ts';
import { type Principal, type RoleName, authenticate, lowerRole, principalOfKey } from '../accounts/index.ts';
import { recordAudit, recordInstallationAudit } from '../audit/index.ts';
import { authenticateInstallationKey, claimsInstallationKey, installationKeyIsLive } from '../installation/index.ts';
import { DashboardSession } from './entity.ts';

/** What a request carries once its session cookie is checked: an account's user, or an installation key. */
export type DashboardPrincipal = { sessionId: string; expiresAt: Date } & (
  | ({ kind: 'account' } & Principal)
  | { kind: 'installation'; installationKeyId: string }
);

/** The cookie holding a session's token, for path `/`: the dashboard and /v1 (src/http/plugins/auth.ts) read it. */
export const SESSION_COOKIE = 'skyloft_session';

/** last_seen_at is written at most this often per session, not on every poll of the dashboard. */
const SEEN_EVERY_MS = 60_000;

const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');
/** 32 random bytes, base64url: the cookie's whole value. */
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Server-side browser sessions, made from an account's API key or an installation key. Knows nothing of HTTP: the
 * routes turn its answers into cookies and redirects. The key itself is never stored; a session holds which key it was
 * made from, and every lookup re-checks that key (and its user) through the same rule as bearer authentication.
 */
export class DashboardSessions {
  private readonly ttlMs: number;

  constructor(ttlMs: number) {
    this.ttlMs = ttlMs;
  }

  /** Throws UnauthorizedError (401) for a key the API would refuse; else returns a new session's token. */
  async signIn(em: Em, rawKey: string | undefined, from: Pick<Actor, 'ip' | 'userAgent' | 'requestId'>) {
    const token = randomBytes(32).toString('base64url');
    const now = new Date();
    const base = { id: newId(), tokenHash: hashToken(token), expiresAt: new Date(now.getTime() + this.ttlMs), lastSeenAt: now };
    const audit = (s: DashboardSession) => ({
      action: 'dashboard_session.create',
      entityType: 'dashboard_session',
      entityId: s.id,
      after: { id: s.id, role: s.role, expiresAt: s.expiresAt.toISOString() },
    });
    let principal: DashboardPrincipal;
    if (claimsInstallationKey(rawKey)) {
      const { installationKeyId } = await authenticateInstallationKey(em, rawKey);
      const session = em.create(DashboardSession, { ...base, accountId: null, userId: null, apiKeyId: null, role: null, installationKeyId });
      recordInstallationAudit(em, { kind: 'installation', installationKeyId, ...from }, null, audit(session));
      principal = { kind: 'installation', installationKeyId, sessionId: session.id, expiresAt: session.expiresAt };
    } else {
      const key = await authenticate(em, rawKey);
      const session = em.create(DashboardSession, { ...base, accountId: key.accountId, userId: key.userId, apiKeyId: key.keyId, role: key.role, installationKeyId: null });
      recordAudit(em, { kind: 'user', ...key, ...from }, audit(session));
      principal = { kind: 'account', ...key, sessionId: session.id, expiresAt: session.expiresAt };
    }
    await em.flush();
    // Sweep sessions that ended: sign-ins are rare, so this keeps the table small without a scheduled job.
    await em.nativeDelete(DashboardSession, { expiresAt: { $lte: now } });
    return { token, expiresAt: principal.expiresAt, principal };
  }

  /**
   * The session behind a cookie token, or undefined when it is unknown, expired, or its key or user is no longer
   * valid (such a session is deleted on the spot). The role is the lower of the sign-in role and today's.
   */
  async resolve(em: Em, token: string | undefined): Promise<DashboardPrincipal | undefined> {
    if (!token || !TOKEN_RE.test(token)) return undefined;
    const session = await em.findOne(DashboardSession, { tokenHash: hashToken(token), expiresAt: { $gt: new Date() } });
    if (!session) return undefined;
    const found = await this.principalOf(em, session);
    if (!found) {
      await em.nativeDelete(DashboardSession, { id: session.id });
      return undefined;
    }
    if (Date.now() - session.lastSeenAt.getTime() > SEEN_EVERY_MS) {
      await em.nativeUpdate(DashboardSession, { id: session.id }, { lastSeenAt: new Date() });
    }
    return found;
  }

  /** The session's principal as of today, or undefined when the key (or its user) it was made from is no longer valid. */
  private async principalOf(em: Em, session: DashboardSession): Promise<DashboardPrincipal | undefined> {
    const ids = { sessionId: session.id, expiresAt: session.expiresAt };
    if (session.installationKeyId) {
      return (await installationKeyIsLive(em, session.installationKeyId)) ? { kind: 'installation', installationKeyId: session.installationKeyId, ...ids } : undefined;
    }
    const principal = session.apiKeyId ? await principalOfKey(em, session.apiKeyId) : undefined;
    if (!principal || principal.userId !== session.userId || !session.role) return undefined;
    const role: RoleName = lowerRole(session.role, principal.role);
    return { kind: 'account', ...principal, role, ...ids };
  }

  /** Ends the session behind a token (if any). Idempotent. */
  async signOut(em: Em, token: string | undefined): Promise<void> {
    if (!token || !TOKEN_RE.test(token)) return;
    await em.nativeDelete(DashboardSession, { tokenHash: hashToken(token) });
  }
}
