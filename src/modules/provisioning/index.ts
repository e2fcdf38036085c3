// The provisioning module as other modules, the workers, src/http and the entry points use it (src/README.md).

export { IdempotencyKey, Operation, RESOURCE_TYPES, Resource } from './entities.ts';
export { giveBackAttempt, recordOperationFailure, settleStalledOperation, strandedOperations, type OperationJob } from './operations.ts';
export { liveResourcesOf, resourceOf } from './resources.ts';
export { operationRoutes, resourceRoutes } from './routes.ts';
export { StoredSandboxLedger } from './sandbox-ledger.ts';
export { stateBackendRoutes } from './state-backend-routes.ts';
export { stateRoutes } from './state-routes.ts';
export { runOperation, type OperationDeps, type StateBackend } from './run-operation.ts';
export { ProvisioningService } from './service.ts';
