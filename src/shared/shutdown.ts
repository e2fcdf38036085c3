/**
 * How a graceful stop spends SKYLOFT_SHUTDOWN_TIMEOUT (T), as epoch-ms deadlines from the signal:
 * - until `jobsUntil` (T minus a reserve of min(T/2, 10 s)) running jobs may finish on their own;
 * - then they are aborted and handed back to the queue, by `handBackBy` (T minus min(T/5, 2 s));
 * - the last part closes PostgreSQL and Redis. Past T the process exits 1 whatever is left.
 * The reserve covers terraform's stop: SIGINT, up to 5 s for it to save its state, then SIGKILL.
 */
export interface StopBudget {
  readonly jobsUntil: number;
  readonly handBackBy: number;
}

export function stopBudget(timeoutMs: number, now = Date.now()): StopBudget {
  return {
    jobsUntil: now + timeoutMs - Math.min(timeoutMs / 2, 10_000),
    handBackBy: now + timeoutMs - Math.min(timeoutMs / 5, 2_000),
  };
}
