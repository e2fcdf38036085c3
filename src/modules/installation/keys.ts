import type { Em } from '../../db/orm.ts';
import { NotFoundError, UnauthorizedError } from '../../shared/errors.ts';
import { isUuid, newId } from '../../shared/ids.ts';
import { iso } from '../../shared/time.ts';
import { generateKey, hashApiKey } from '../accounts/index.ts';
import { recordInstallationAudit, type InstallationActor } from '../audit/index.ts';
import { InstallationKey } from './entity.ts';

/**
 * Installation keys: `skyi_` + 36 base62 characters, the identity of the people who run the installation. Such a key
 * reads /metrics and acts on every account's jobs in the queue dashboard; it belongs to no account, so account routes
 * answer it 403. Made and revoked only by the admin CLI (which holds the database), never over HTTP.
 */
export const INSTALLATION_KEY_PREFIX = 'skyi_';
const KEY_RE = /^skyi_[A-Za-z0-9]{36}$/;

/** Whether a presented credential claims to be an installation key (well formed or not: a bad one answers 401). */
export const claimsInstallationKey = (raw: string | undefined): raw is string => raw?.startsWith(INSTALLATION_KEY_PREFIX) === true;

export interface InstallationPrincipal {
  installationKeyId: string;
}

/** last_used_at is written at most this often per key (scrapers present the key every few seconds). */
const USE_RECORDED_EVERY_MS = 60_000;

/** The key's principal, or 401 for a malformed, unknown or revoked key (one message for every case). */
export async function authenticateInstallationKey(em: Em, raw: string | undefined): Promise<InstallationPrincipal> {
  if (!raw || !KEY_RE.test(raw)) throw new UnauthorizedError();
  const key = await em.findOne(InstallationKey, { keyHash: hashApiKey(raw), revokedAt: null }, { fields: ['id', 'lastUsedAt'] });
  if (!key) throw new UnauthorizedError();
  if (!key.lastUsedAt || Date.now() - key.lastUsedAt.getTime() > USE_RECORDED_EVERY_MS) {
    await em.nativeUpdate(InstallationKey, { id: key.id }, { lastUsedAt: new Date() });
  }
  return { installationKeyId: key.id };
}

/** Whether a key is still valid: a browser session made from it re-checks this on every request. */
export async function installationKeyIsLive(em: Em, id: string): Promise<boolean> {
  return (await em.count(InstallationKey, { id, revokedAt: null })) === 1;
}

export function installationKeyView(k: InstallationKey) {
  return { id: k.id, name: k.name, prefix: k.prefix, createdAt: iso(k.createdAt), lastUsedAt: iso(k.lastUsedAt), revokedAt: iso(k.revokedAt) };
}

const CLI: InstallationActor = { kind: 'cli', installationKeyId: null };

/** A new key: the raw key is returned once and never stored. */
export async function createInstallationKey(em: Em, name: string) {
  const key = generateKey(INSTALLATION_KEY_PREFIX);
  const row = em.create(InstallationKey, {
    id: newId(),
    name,
    keyHash: hashApiKey(key),
    prefix: key.slice(0, INSTALLATION_KEY_PREFIX.length + 8),
    lastUsedAt: null,
    revokedAt: null,
  });
  await em.flush(); // the audit row references the key
  recordInstallationAudit(em, CLI, null, { action: 'installation_key.create', entityType: 'installation_key', entityId: row.id, after: installationKeyView(row) });
  await em.flush();
  return { ...installationKeyView(row), key };
}

export async function listInstallationKeys(em: Em) {
  return (await em.find(InstallationKey, {}, { orderBy: { id: 'asc' } })).map(installationKeyView);
}

/** Revokes a key (idempotent); its browser sessions end with it (each request re-checks the key). */
export async function revokeInstallationKey(em: Em, id: string) {
  const row = isUuid(id) ? await em.findOne(InstallationKey, { id }) : null;
  if (!row) throw new NotFoundError('Installation key', id);
  if (!row.revokedAt) {
    const before = installationKeyView(row);
    row.revokedAt = new Date();
    recordInstallationAudit(em, CLI, null, { action: 'installation_key.revoke', entityType: 'installation_key', entityId: row.id, before, after: installationKeyView(row) });
    await em.flush();
  }
  return installationKeyView(row);
}
