export type RoleName = 'admin' | 'operator' | 'viewer';

/**
 * Who is acting, carried from the HTTP request (or the CLI) into services, and recorded in the audit log.
 */
export interface Actor {
  kind: 'user' | 'cli' | 'system';
  accountId: string;
  userId: string | null;
  keyId: string | null;
  role: RoleName;
  ip?: string;
  userAgent?: string;
  requestId?: string;
}
