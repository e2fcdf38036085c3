/**
 * The work a role starts on its own (at start and on timers: schedule reconciling, pruning, the reconciler), which no
 * queue or request tracks. `stop()` ends the timers and waits for what still runs, so the process closes the
 * database only after it: a query caught starting while the pool closes never gives its connection back, and the
 * close then waits for it forever.
 */
export class Background {
  private readonly running = new Set<Promise<unknown>>();
  private readonly timers: NodeJS.Timeout[] = [];

  /** Starts `work` now; it must handle its own errors (they are logged where they happen). */
  run(work: () => Promise<unknown>): void {
    const done: Promise<unknown> = work().finally(() => this.running.delete(done));
    this.running.add(done);
  }

  every(ms: number, work: () => Promise<unknown>): void {
    this.timers.push(setInterval(() => this.run(work), ms));
  }

  async stop(): Promise<void> {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    await Promise.allSettled([...this.running]);
  }
}
