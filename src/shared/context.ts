import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What the code is working for right now: the HTTP request being served, or the job being run (and the request that
 * enqueued it). Set by the HTTP layer and the worker's job wrapper; read by the logger (every line carries the ids)
 * and by the queue producer (every job enqueued while serving a request carries that request's id). Services stay
 * unaware of it: no signature had to change to carry a request id into the jobs it causes.
 */
export interface WorkContext {
  readonly requestId?: string;
  readonly jobId?: string;
}

const storage = new AsyncLocalStorage<WorkContext>();

export function currentContext(): WorkContext | undefined {
  return storage.getStore();
}

export function runInContext<T>(context: WorkContext, fn: () => T): T {
  return storage.run(context, fn);
}
