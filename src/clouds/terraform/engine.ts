import { synthesizeStack, type StackInput } from '../../../stacks/index.ts';
import type { EngineRun, EngineRunOptions, InfrastructureEngine } from '../engine.ts';
import { TerraformCanceledError } from './errors.ts';
import type { TerraformSettings } from './run.ts';
import { apply, init, plan, pushErroredState, redactedOutputs, type StepOptions } from './steps.ts';
import { isolationWarning } from './uids.ts';
import { createWorkdir } from './workdir.ts';

/**
 * The infrastructure-engine port (src/clouds/engine.ts) on terraform: each run is a private work directory (under
 * its own uid when the worker is root), the resource's stack synthesized into it, and one terraform process per step
 * whose state lives in the backend the run's `env` names. `parent`: the worker's folder of work directories.
 */
export function terraformEngine(terraform: TerraformSettings, parent: string): InfrastructureEngine {
  return {
    isolationWarning,
    isStopped: (e) => e instanceof TerraformCanceledError,
    async open(): Promise<EngineRun> {
      const workdir = await createWorkdir({ parent, uidBase: terraform.uidBase });
      let ready: { stackDir: string; opts: StepOptions } | undefined;
      const started = () => {
        if (!ready) throw new Error('init the run first');
        return ready;
      };
      return {
        async init({ stack, env, signal, onOutput }: EngineRunOptions) {
          const { stackDir } = await synthesizeStack(stack as StackInput, workdir.dir);
          const opts: StepOptions = { terraform, workdir: workdir.dir, uid: workdir.uid, env, signal, onOutput: (text) => onOutput(text) };
          await init(stackDir, opts);
          ready = { stackDir, opts };
        },
        async plan({ destroy }) {
          const { stackDir, opts } = started();
          const planned = await plan(stackDir, opts, { destroy });
          return { changes: planned.changes, summary: planned.summary };
        },
        async apply() {
          const { stackDir, opts } = started();
          try {
            await apply(stackDir, opts);
          } finally {
            // A failed state push leaves errored.tfstate: the only record of what was created. Push it again.
            await pushErroredState(stackDir, opts).catch((e: unknown) => opts.onOutput?.(`errored.tfstate could not be pushed: ${String(e)}\n`, 'stderr'));
          }
        },
        outputs(state) {
          const outputs = state ? (JSON.parse(state.toString('utf8')) as { outputs?: Record<string, { value: unknown }> }).outputs : undefined;
          return redactedOutputs(outputs ?? {}, { env: ready?.opts.env });
        },
        dispose: () => workdir.dispose(),
      };
    },
  };
}
