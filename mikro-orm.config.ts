import { loadConfig } from './src/config/index.ts';
import { ormConfig } from './src/db/orm.ts';
import { entities } from './src/modules/entities.ts';

/**
 * For MikroORM tooling pointed at an explicit DATABASE_URL. Skyloft itself builds the same configuration in
 * src/db/orm.ts; migrations are applied with `npm run cli -- migrate` (or automatically by `npm start`).
 */
const config = loadConfig();
export default ormConfig(config.databaseUrl ?? 'postgres://postgres@127.0.0.1:5432/skyloft', entities);
