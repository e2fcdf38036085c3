import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from './index.ts';

/**
 * The master keys, newest first. config.masterKey is SKYLOFT_MASTER_KEY or the content of SKYLOFT_MASTER_KEY_FILE
 * (loadConfig reads the file, so the server, the CLI and rotate-master-key all accept either); with DATABASE_URL set
 * the config demands one of them. Only local mode without either generates one, once, into `<dataDir>/master.key`
 * (mode 0600), and warns about it.
 */
/** The one thing resolveMasterKeys logs with (config imports nothing of ours; a pino logger is one). */
export interface KeyWarner {
  warn(details: { file: string }, message: string): void;
}

export function resolveMasterKeys(config: Config, log: KeyWarner): string[] {
  const previous = config.previousMasterKey ? [config.previousMasterKey] : [];
  if (config.masterKey) return [config.masterKey, ...previous];
  const dataDir = resolve(config.dataDir);
  const file = join(dataDir, 'master.key');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o711 });
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    log.warn(
      { file },
      'local mode: generated a master key. Back it up apart from the database: losing it loses every secret and state',
    );
  }
  return [readFileSync(file, 'utf8').trim(), ...previous];
}
