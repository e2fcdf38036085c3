import type { InfrastructureEngine } from '../src/clouds/engine.ts';
import { type OperationDeps, type StateBackend, recordOperationFailure, runOperation } from '../src/modules/provisioning/index.ts';
import { catalog } from '../src/queue/catalog.ts';
import type { Runtime } from '../src/deps.ts';
import type { JobHandler } from './job-runner.ts';
import { followSandboxOperation } from './sandbox-follow.ts';

/** The provision job: one operation's state machine (src/modules/provisioning/run-operation.ts) on the engine. */
export function provisioningHandler(rt: Runtime, engine: InfrastructureEngine, backend: StateBackend): JobHandler {
  const deps: OperationDeps = { ...rt, engine, backend, succeeded: (resource) => followSandboxOperation(rt, resource) };
  return {
    // `signal` aborts on shutdown: the engine's step is stopped, the lease released, and the job runner hands it back.
    run: (job, _token, signal) => runOperation(deps, rt.orm.em.fork(), catalog.provision.payload.parse(job.data), signal),
    failed: (job, error) => recordOperationFailure(rt.orm.em.fork(), catalog.provision.payload.parse(job.data).operationId, error.message),
  };
}
