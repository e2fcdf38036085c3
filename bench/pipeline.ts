import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { synthesizeStack } from '../stacks/index.ts';
import {
  api, bootstrap, waitForOperation, emit, hex, median, progress, sandboxCredential, Scope, skyloftEnv, sleep, startSkyloft, terraform, terraformEnv,
  type Api, type Options,
} from './support.ts';

/**
 * pipeline: what Skyloft adds around terraform for one sandbox vm. Per run, the client-side time from POST
 * /v1/resources to the operation read back as `succeeded` (polled every POLL_MS), minus the time of
 * `terraform init && terraform apply -auto-approve` run by hand on the very stack the worker synthesized for that
 * resource (same synthesizeStack input, same CLI settings as the worker: empty CLI config, HOME in the work dir).
 *
 * Fairness: the by-hand run uses terraform's default local backend (the synthesized `backend "http" {}` block is
 * removed), because "by hand" is what a user gets without Skyloft, and keeping state versioned, encrypted and locked
 * in PostgreSQL is part of what Skyloft adds. So the overhead counts the API (validation, DB commit, enqueue), the
 * queue pickup, in-process synthesis, the worker's separate plan + show -json + apply + output -json steps, the
 * state round trips through its backend, the lease and the status updates, and up to POLL_MS of polling. Synthesis
 * of the by-hand stack is not timed. Skyloft runs as one `npm start` (all roles) on a fresh database; one unmeasured
 * warm-up run of each side comes first (Skyloft loads cdktf lazily on its first synthesis). Runs are paired and the
 * reported overhead is the median of the per-run differences.
 */
const SUITE = 'pipeline';
const POLL_MS = 20;
export const defaults: Options = { runs: 5 };

export async function run(opts: Options): Promise<void> {
  const scope = new Scope();
  try {
    progress(SUITE, 'starting Skyloft on a fresh database');
    const env = await skyloftEnv(scope, 'pipeline');
    const { url } = await startSkyloft(scope, 'skyloft', env);
    const call = api(url, await bootstrap(env));
    const credentialId = await sandboxCredential(call);
    const accountId: string = (await call('GET', '/v1/me')).json.account.id;

    const viaSkyloft = async (name: string) => {
      const started = performance.now();
      const res = await call('POST', '/v1/resources', { name, provider: 'sandbox', type: 'vm', region: 'local', credentialId, spec: {} });
      if (res.status !== 202) throw new Error(`POST /v1/resources: HTTP ${res.status} ${JSON.stringify(res.json)}`);
      await waitForOperation(call, res.json.operation.id, POLL_MS);
      return { ms: performance.now() - started, resourceId: res.json.resource.id as string };
    };
    const byHand = async (name: string, resourceId: string) => {
      const dir = scope.tmpdir();
      const { stackDir } = await synthesizeStack({ provider: 'sandbox', type: 'vm', resourceId, accountId, name, region: 'local', spec: {} }, join(dir, 'out'));
      const file = join(stackDir, 'cdk.tf.json');
      const stack = JSON.parse(readFileSync(file, 'utf8'));
      delete stack.terraform.backend; // local state: see the comment at the top
      writeFileSync(file, JSON.stringify(stack));
      const tfEnv = terraformEnv(dir);
      const init = await terraform(stackDir, ['init', '-input=false', '-no-color'], tfEnv);
      return init + (await terraform(stackDir, ['apply', '-auto-approve', '-input=false', '-no-color'], tfEnv));
    };

    const pairs: { skyloft: number; hand: number }[] = [];
    for (let i = 0; i <= opts.runs!; i++) {
      const name = `pipeline-${i}-${hex()}`;
      const ours = await viaSkyloft(name);
      const hand = await byHand(name, ours.resourceId);
      const label = i === 0 ? 'warm-up' : `run ${i}/${opts.runs}`;
      progress(SUITE, `${label}: POST→succeeded ${ours.ms.toFixed(0)} ms, terraform init+apply by hand ${hand.toFixed(0)} ms, overhead ${(ours.ms - hand).toFixed(0)} ms`);
      if (i > 0) pairs.push({ skyloft: ours.ms, hand });
    }
    emit(SUITE, 'overhead_ms', median(pairs.map((p) => p.skyloft - p.hand)), 'ms');
    emit(SUITE, 'post_to_succeeded_ms', median(pairs.map((p) => p.skyloft)), 'ms');
    emit(SUITE, 'terraform_by_hand_ms', median(pairs.map((p) => p.hand)), 'ms');
  } finally {
    await scope.close();
  }
}
