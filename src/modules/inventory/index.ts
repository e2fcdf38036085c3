// The inventory module as other modules, the workers, src/http and the entry points use it (src/README.md).

export { SyncRun, SyncScope } from './entities.ts';
export { credentialFreshness } from './freshness.ts';
export { purgeCredentialInventory, pruneInventory } from './history.ts';
export { inventoryRoutes, syncRoutes } from './routes.ts';
export { syncRunsWithoutPlan } from './stranded.ts';
export { SyncService } from './sync.ts';
