import { randomBytes } from 'node:crypto';
import type { AwsKey } from '../options.ts';

/**
 * The access keys AWS accepts: the configured long-term keys and the temporary ones AssumeRole hands out (which
 * also need their session token). Signatures are not verified: the key id, and for temporary keys the session token,
 * decide.
 */
export interface Principal {
  accountId: string;
  arn: string;
  userId: string;
}

interface Key {
  secretAccessKey: string;
  principal: Principal;
  sessionToken?: string;
  expiresAt?: number;
}

export type KeyCheck = { ok: true; principal: Principal } | { ok: false; reason: 'unknown' | 'expired' | 'token' };

export class AwsKeys {
  private readonly keys = new Map<string, Key>();

  constructor(keys: AwsKey[]) {
    for (const k of keys) this.add(k);
  }

  add(k: AwsKey): void {
    const userName = k.userName ?? 'skyloft';
    this.keys.set(k.accessKeyId, {
      secretAccessKey: k.secretAccessKey,
      principal: { accountId: k.accountId, arn: `arn:aws:iam::${k.accountId}:user/${userName}`, userId: `AIDA${k.accessKeyId.slice(4, 20)}` },
    });
  }

  /** Revokes a key (long-term or temporary); calls signed with it then fail as an unknown key does. */
  revoke(accessKeyId: string): boolean {
    return this.keys.delete(accessKeyId);
  }

  check(accessKeyId: string, sessionToken: string | undefined): KeyCheck {
    const key = this.keys.get(accessKeyId);
    if (!key) return { ok: false, reason: 'unknown' };
    if (key.sessionToken !== undefined && key.sessionToken !== sessionToken) return { ok: false, reason: 'token' };
    if (key.expiresAt !== undefined && key.expiresAt < Date.now()) return { ok: false, reason: 'expired' };
    return { ok: true, principal: key.principal };
  }

  /** Temporary credentials for an assumed role, valid for `seconds`. */
  issue(roleArn: string, sessionName: string, seconds: number) {
    const [, accountId = '', roleName = ''] = /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]+)$/.exec(roleArn) ?? [];
    const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
    const secretAccessKey = randomBytes(30).toString('base64');
    const sessionToken = `IQoJb3JpZ2luX2VjE${randomBytes(180).toString('base64')}`;
    const expiresAt = Date.now() + seconds * 1000;
    const roleId = `AROA${randomBytes(8).toString('hex').toUpperCase()}`;
    const principal: Principal = {
      accountId,
      arn: `arn:aws:sts::${accountId}:assumed-role/${roleName}/${sessionName}`,
      userId: `${roleId}:${sessionName}`,
    };
    this.keys.set(accessKeyId, { secretAccessKey, principal, sessionToken, expiresAt });
    return { accessKeyId, secretAccessKey, sessionToken, expiration: new Date(expiresAt), principal, roleId };
  }
}

export const ROLE_ARN = /^arn:aws:iam::\d{12}:role\/(?:.*\/)?[\w+=,.@-]+$/;
