// The accounts module as other modules, the workers, src/http and the entry points use it (src/README.md).

export { authenticate, principalOfKey, recordKeyUse, type Principal } from './authenticate.ts';
export { bootstrapAccount } from './bootstrap.ts';
export { Account, ApiKey, ROLE_NAMES, User, type RoleName } from './entities.ts';
export { generateKey, hashApiKey } from './keys.ts';
export { assertQuota, lockAccountQuotas, type CountQuotas } from './quotas.ts';
export { lowerRole, roleAtLeast } from './roles.ts';
export { apiKeyRoutes, meRoutes, userRoutes } from './routes.ts';
