import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  api, bootstrap, waitForOperation, emit, freshDatabase, median, progress, sandboxCredential, Scope, skyloftEnv, sql, startSkyloft, terraform, terraformEnv,
  sleep, type Api, type Options,
} from './support.ts';

/**
 * state-backend: the wall time of one `terraform apply` that writes about 2 MB of state, through Skyloft's http
 * backend (/v1/terraform/state/<resourceId>, an API key as password) against terraform's own `pg` backend on the same
 * PostgreSQL. Both sides run the same configuration: BLOBS terraform_data resources whose input is a random string
 * (state holds each string twice, as input and output). Every measured run rewrites every string, so each apply
 * really refreshes, locks, reads and writes ~2 MB; the two backends alternate which goes first.
 */
const SUITE = 'state-backend';
const BLOBS = 8;
export const defaults: Options = { runs: 5, stateMb: 2 };

function config(backend: Record<string, unknown>, stateBytes: number): string {
  const perBlob = Math.floor(stateBytes / 2 / BLOBS); // stored twice: input and output
  const blobs = Object.fromEntries(
    Array.from({ length: BLOBS }, (_, i) => [`blob_${i}`, { input: randomBytes(perBlob / 2).toString('hex') }]),
  );
  return JSON.stringify({ terraform: { backend }, resource: { terraform_data: blobs } });
}

export async function run(opts: Options): Promise<void> {
  const scope = new Scope();
  try {
    const stateBytes = opts.stateMb! * 1024 * 1024;
    progress(SUITE, 'starting Skyloft on a fresh database');
    const env = await skyloftEnv(scope, 'state');
    const { url } = await startSkyloft(scope, 'skyloft', env);
    const key = await bootstrap(env);
    const call = api(url, key);

    // The state address needs a resource row: a real sandbox vm, created through the API. Our own terraform then
    // takes its state over with a different configuration (its first, unmeasured apply replaces the vm).
    const created = await call('POST', '/v1/resources', {
      name: 'state-bench', provider: 'sandbox', type: 'vm', region: 'local', credentialId: await sandboxCredential(call), spec: {},
    });
    if (created.status !== 202) throw new Error(`POST /v1/resources: HTTP ${created.status} ${JSON.stringify(created.json)}`);
    await waitForOperation(call, created.json.operation.id);
    const resourceId: string = created.json.resource.id;

    const address = `${url}/v1/terraform/state/${resourceId}`;
    const pgUrl = await freshDatabase(scope, 'pg_backend');
    type Side = { label: string; backend: Record<string, unknown>; dir: string; times: number[]; extra: Record<string, string> };
    const sides = ([
      {
        label: 'skyloft', backend: { http: {} }, dir: scope.tmpdir(), times: [] as number[],
        extra: { TF_HTTP_ADDRESS: address, TF_HTTP_LOCK_ADDRESS: address, TF_HTTP_UNLOCK_ADDRESS: address, TF_HTTP_USERNAME: 'bench', TF_HTTP_PASSWORD: key },
      },
      { label: 'pg', backend: { pg: {} }, dir: scope.tmpdir(), times: [] as number[], extra: { PG_CONN_STR: `${pgUrl}?sslmode=disable` } },
    ] as Side[]).map((s) => ({ ...s, env: terraformEnv(s.dir, s.extra) }));

    const apply = (side: (typeof sides)[number]) => {
      writeFileSync(join(side.dir, 'main.tf.json'), config(side.backend, stateBytes));
      return terraform(side.dir, ['apply', '-auto-approve', '-input=false', '-no-color'], side.env);
    };
    for (const side of sides) {
      progress(SUITE, `${side.label}: init and a first (unmeasured) apply`);
      writeFileSync(join(side.dir, 'main.tf.json'), config(side.backend, stateBytes));
      await terraform(side.dir, ['init', '-input=false', '-no-color'], side.env);
      await apply(side);
    }
    const [ours] = await sql<{ size: number }>(env.DATABASE_URL!, 'select size from state_versions where resource_id = $1 order by version desc limit 1', [resourceId]);
    const [theirs] = await sql<{ size: number }>(pgUrl, 'select octet_length(data) as size from terraform_remote_state.states');
    progress(SUITE, `state size: skyloft ${ours?.size} bytes, pg backend ${theirs?.size} bytes`);

    for (let i = 0; i < opts.runs!; i++) {
      const order = i % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) {
        const ms = await apply(side);
        side.times.push(ms / 1000);
        progress(SUITE, `run ${i + 1}/${opts.runs}: ${side.label} ${(ms / 1000).toFixed(2)} s`);
      }
    }
    const [skyloft, pgSide] = sides as [(typeof sides)[number], (typeof sides)[number]];
    emit(SUITE, 'apply_seconds', median(skyloft.times), 's', { label: 'terraform pg backend', value: median(pgSide.times) });
    if (ours) emit(SUITE, 'state_mb', ours.size / 1024 / 1024, 'MB');
  } finally {
    await scope.close();
  }
}
