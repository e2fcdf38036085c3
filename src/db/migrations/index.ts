import { Migration0001Foundation } from './0001-foundation.ts';

/** Every committed migration, in order. Listed explicitly so no file-system discovery runs at start-up. */
export const migrations = [{ name: '0001-foundation', class: Migration0001Foundation }];
