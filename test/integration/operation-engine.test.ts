import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineRun, EngineRunOptions, InfrastructureEngine, PlanSummary } from '../../src/clouds/engine.ts';
import { Operation, Resource } from '../../src/modules/provisioning/entities.ts';
import { OperationFailedError, runOperation, type OperationDeps } from '../../src/modules/provisioning/run-operation.ts';
import { StateLock } from '../../src/modules/state/entities.ts';
import { bearer, createTestContext, type TestContext } from '../support/context.ts';

// The operation state machine (src/modules/provisioning/run-operation.ts) on a fake engine: the port is all it
// needs, so approvals, the plan-changed check and cancel are checked here without terraform or a worker.

class FakeEngine implements InfrastructureEngine {
  summary: PlanSummary = { add: 1, change: 0, destroy: 0 };
  applies = 0;
  disposed = 0;
  /** When set, apply runs until its signal aborts (a long apply the user cancels). */
  hang = false;
  env: Readonly<Record<string, string>> | undefined;
  stopped = new Error('stopped by its signal');

  isolationWarning = () => undefined;
  isStopped = (e: unknown) => e === this.stopped;
  open = async (): Promise<EngineRun> => {
    let options: EngineRunOptions | undefined;
    return {
      init: async (opts) => {
        options = opts;
        this.env = opts.env;
        opts.onOutput('fake init\n');
      },
      plan: async () => ({ changes: true, summary: this.summary }),
      apply: async () => {
        this.applies++;
        if (!this.hang) return;
        const signal = options!.signal;
        await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
        throw this.stopped;
      },
      outputs: () => ({ address: '10.0.0.7' }),
      dispose: async () => void this.disposed++,
    };
  };
}

let ctx: TestContext;
let key: string;
let credentialId: string;
let engine: FakeEngine;
let deps: OperationDeps;
const revoked: string[] = [];

beforeAll(async () => {
  ctx = await createTestContext();
  key = (await ctx.bootstrap()).apiKey;
  credentialId = (await call('POST', '/v1/credentials', { name: 'sandbox', provider: 'sandbox', secret: {} })).json().id;
}, 60_000);
afterAll(() => ctx.close());

function call(method: string, url: string, body?: unknown) {
  return ctx.app.inject({ method: method as 'POST', url, headers: bearer(key), ...(body !== undefined && { payload: body as object }) });
}

function freshEngine() {
  engine = new FakeEngine();
  deps = {
    ...ctx.deps,
    engine,
    backend: {
      grant: ({ resourceId }) => ({ env: { TF_HTTP_PASSWORD: `token-${resourceId}` }, revoke: () => void revoked.push(resourceId) }),
    },
  };
}

async function requested(name: string) {
  const created = await call('POST', '/v1/resources', { name, provider: 'sandbox', type: 'vm', region: 'local', credentialId, spec: { size: 'small' }, autoApprove: false });
  expect(created.statusCode, created.body).toBe(202);
  return created.json() as { resource: { id: string }; operation: { id: string } };
}

const run = (operationId: string, phase: 'plan' | 'apply') => runOperation(deps, ctx.orm.em.fork(), { operationId, phase });
const operation = (id: string) => ctx.orm.em.fork().findOneOrFail(Operation, { id });
const resource = (id: string) => ctx.orm.em.fork().findOneOrFail(Resource, { id });
const lockOf = (resourceId: string) => ctx.orm.em.fork().findOne(StateLock, { resourceId });

describe('an operation on the engine port', () => {
  it('plans, waits for approval, then applies the approved plan with the backend grant, and records the outputs', async () => {
    freshEngine();
    const { resource: r, operation: o } = await requested('approved');
    await run(o.id, 'plan');
    expect(await operation(o.id)).toMatchObject({ status: 'awaiting_approval', step: 'approval', planSummary: engine.summary });
    expect(engine.applies).toBe(0);
    expect((await call('POST', `/v1/operations/${o.id}/approve`)).statusCode).toBe(200);
    await run(o.id, 'plan'); // the plan-phase job of an approved operation does nothing
    await run(o.id, 'apply');
    expect(await operation(o.id)).toMatchObject({ status: 'succeeded', step: 'done', attempts: 2 });
    expect(await resource(r.id)).toMatchObject({ status: 'active', outputs: { address: '10.0.0.7' } });
    expect(engine.applies).toBe(1);
    expect(engine.env).toMatchObject({ TF_HTTP_PASSWORD: `token-${r.id}` });
    expect(revoked.filter((id) => id === r.id)).toHaveLength(2);
    expect(engine.disposed).toBe(2);
    expect(await lockOf(r.id)).toBeNull();
    expect((await call('GET', `/v1/operations/${o.id}/log`)).body).toContain('fake init');
  });

  it('fails an approved operation whose new plan differs from the one approved, without applying it', async () => {
    freshEngine();
    const { resource: r, operation: o } = await requested('changed');
    await run(o.id, 'plan');
    await call('POST', `/v1/operations/${o.id}/approve`);
    engine.summary = { add: 1, change: 0, destroy: 1 };
    await expect(run(o.id, 'apply')).rejects.toBeInstanceOf(OperationFailedError);
    expect(await operation(o.id)).toMatchObject({ status: 'failed', error: expect.stringContaining('The plan changed since it was approved') });
    expect(await resource(r.id)).toMatchObject({ status: 'failed' });
    expect(engine.applies).toBe(0);
    expect(await lockOf(r.id)).toBeNull();
  });

  it('stops the engine when the operation is canceled while it runs, releases the lease and ends canceled', async () => {
    freshEngine();
    engine.hang = true;
    const { resource: r, operation: o } = await requested('canceled');
    await run(o.id, 'plan');
    await call('POST', `/v1/operations/${o.id}/approve`);
    const running = run(o.id, 'apply');
    for (let i = 0; engine.applies === 0; i++) {
      if (i > 100) throw new Error('the apply never started');
      await new Promise((ok) => setTimeout(ok, 50));
    }
    expect(await lockOf(r.id)).not.toBeNull();
    expect((await call('POST', `/v1/operations/${o.id}/cancel`)).statusCode).toBe(200);
    await running;
    expect(await operation(o.id)).toMatchObject({ status: 'canceled', error: 'canceled while running' });
    expect(await resource(r.id)).toMatchObject({ status: 'failed' });
    expect(await lockOf(r.id)).toBeNull();
    expect(engine.disposed).toBe(2);
  });

  it('destroys a resource whose state holds nothing without opening the engine', async () => {
    freshEngine();
    const { resource: r, operation: o } = await requested('empty');
    await run(o.id, 'plan');
    await call('POST', `/v1/operations/${o.id}/approve`);
    engine.summary = { add: 9, change: 0, destroy: 0 };
    await expect(run(o.id, 'apply')).rejects.toBeInstanceOf(OperationFailedError);
    freshEngine();
    const destroy = await call('DELETE', `/v1/resources/${r.id}?autoApprove=true`);
    expect(destroy.statusCode, destroy.body).toBe(202);
    await run(destroy.json().operation.id, 'plan');
    expect(await operation(destroy.json().operation.id)).toMatchObject({ status: 'succeeded', planSummary: { add: 0, change: 0, destroy: 0 } });
    expect(await resource(r.id)).toMatchObject({ status: 'destroyed' });
    expect(engine.disposed).toBe(0); // never opened: no work directory, no credential, no backend grant
    expect(engine.applies).toBe(0);
  });
});
