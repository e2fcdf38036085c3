import { createHash, randomBytes } from 'node:crypto';
import type { Em } from '../../db/orm.ts';
import type { Actor } from '../../shared/actor.ts';
import { newId } from '../../shared/ids.ts';
import { authenticate, principalOfKey, type Principal } from '../accounts/authenticate.ts';
import type { RoleName } from '../accounts/entities.ts';
import { lowerRole } from '../accounts/roles.ts';
import { recordAudit } from '../audit/service.ts';
import { DashboardSession } from './entity.ts';

/** What a request carries once its session cookie is checked. */
export interface DashboardPrincipal extends Principal {
  sessionId: string;
  expiresAt: Date;
}

/** last_seen_at is written at most this often per session, not on every poll of the dashboard. */
const SEEN_EVERY_MS = 60_000;

const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');
/** 32 random bytes, base64url: the cookie's whole value. */
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Server-side sessions of the queue dashboard, made from an API key. Knows nothing of HTTP: the routes turn its
 * answers into cookies and redirects. The key itself is never stored; a session holds which key it was made from,
 * and every lookup re-checks that key and its user through the same rule as the API's bearer authentication.
 */
export class DashboardSessions {
  private readonly ttlMs: number;

  constructor(ttlMs: number) {
    this.ttlMs = ttlMs;
  }

  /** Throws UnauthorizedError (401) for a key the API would refuse; else returns a new session's token. */
  async signIn(em: Em, rawKey: string | undefined, from: Pick<Actor, 'ip' | 'userAgent' | 'requestId'>) {
    const principal = await authenticate(em, rawKey);
    const token = randomBytes(32).toString('base64url');
    const now = new Date();
    const session = em.create(DashboardSession, {
      id: newId(),
      tokenHash: hashToken(token),
      accountId: principal.accountId,
      userId: principal.userId,
      apiKeyId: principal.keyId,
      role: principal.role,
      expiresAt: new Date(now.getTime() + this.ttlMs),
      lastSeenAt: now,
    });
    recordAudit(em, { kind: 'user', ...principal, ...from }, {
      action: 'dashboard_session.create',
      entityType: 'dashboard_session',
      entityId: session.id,
      after: { id: session.id, role: session.role, expiresAt: session.expiresAt.toISOString() },
    });
    await em.flush();
    // Sweep sessions that ended: sign-ins are rare, so this keeps the table small without a scheduled job.
    await em.nativeDelete(DashboardSession, { expiresAt: { $lte: now } });
    return { token, expiresAt: session.expiresAt, principal };
  }

  /**
   * The session behind a cookie token, or undefined when it is unknown, expired, or its key or user is no longer
   * valid (such a session is deleted on the spot). The role is the lower of the sign-in role and today's.
   */
  async resolve(em: Em, token: string | undefined): Promise<DashboardPrincipal | undefined> {
    if (!token || !TOKEN_RE.test(token)) return undefined;
    const session = await em.findOne(DashboardSession, { tokenHash: hashToken(token), expiresAt: { $gt: new Date() } });
    if (!session) return undefined;
    const principal = await principalOfKey(em, session.apiKeyId);
    if (!principal || principal.userId !== session.userId) {
      await em.nativeDelete(DashboardSession, { id: session.id });
      return undefined;
    }
    if (Date.now() - session.lastSeenAt.getTime() > SEEN_EVERY_MS) {
      await em.nativeUpdate(DashboardSession, { id: session.id }, { lastSeenAt: new Date() });
    }
    const role: RoleName = lowerRole(session.role, principal.role);
    return { ...principal, role, sessionId: session.id, expiresAt: session.expiresAt };
  }

  /** Ends the session behind a token (if any). Idempotent. */
  async signOut(em: Em, token: string | undefined): Promise<void> {
    if (!token || !TOKEN_RE.test(token)) return;
    await em.nativeDelete(DashboardSession, { tokenHash: hashToken(token) });
  }
}
