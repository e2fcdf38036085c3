/**
 * The terraform runner: the only code in Skyloft that spawns terraform. One work directory per operation, run
 * under its own unprivileged uid when the worker is root, an environment made only of what terraform needs, only
 * the pinned providers installable, a time limit per step with the whole process group stopped on expiry or cancel,
 * and every line of output redacted before anyone sees it.
 */
export { createWorkdir, type Workdir } from './workdir.ts';
export { isolationWarning } from './uids.ts';
export { CLI_CONFIG_FILE, renderCliConfig, secretsOf, terraformEnv, writeCliConfig } from './cli-config.ts';
export { createRedactor, MIN_SECRET_LENGTH, REDACTED, type Redactor, type RedactingStream } from './redact.ts';
export {
  runTerraform,
  type OutputStream,
  type RunOptions,
  type RunResult,
  type TerraformSettings,
} from './run.ts';
export {
  apply,
  destroy,
  ERRORED_STATE_FILE,
  init,
  output,
  plan,
  PLAN_FILE,
  pushErroredState,
  redactedOutputs,
  showPlan,
  type PlanResult,
  type PlanSummary,
  type StepOptions,
} from './steps.ts';
export {
  TerraformCanceledError,
  TerraformError,
  TerraformTimeoutError,
  type TerraformFailure,
} from './errors.ts';
export { terraformEngine } from './engine.ts';
// What the stacks allow, for the checks outside this adapter (only src/clouds/terraform imports stacks/).
export { allowedProviderAddresses } from '../../../stacks/index.ts';
export { BUILTIN_PROVIDER } from '../../../stacks/providers.ts';
export { MAX_LITERAL_NUMBER } from '../../../stacks/literal.ts';
