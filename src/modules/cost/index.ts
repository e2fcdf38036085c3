// The cost module as other modules, the workers, src/http and the entry points use it (src/README.md).

export { CostService } from './collect.ts';
export { CostRun } from './entities.ts';
export { costRoutes, resourceCostRoutes } from './routes.ts';
export { strandedCostRuns } from './stranded.ts';
