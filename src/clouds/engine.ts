/**
 * The infrastructure-engine port: what provisioning asks of the engine that turns a resource's stack into cloud
 * resources. Its only adapter is `src/clouds/terraform/engine.ts` (terraform, stacks synthesized by cdktf), the only
 * code that imports `stacks/`; replacing the engine means another adapter of this port, and nothing in
 * src/modules changes. The engine keeps its state through Skyloft's state backend (the `env` a run is opened with
 * names it), so outputs are read from the stored state, not from the engine.
 */

/** The changes a plan would make; a replacement counts once in add and once in destroy. */
export interface PlanSummary {
  readonly add: number;
  readonly change: number;
  readonly destroy: number;
}

export interface Plan {
  /** false when the plan changes nothing. */
  readonly changes: boolean;
  readonly summary: PlanSummary;
}

/** One resource's stack: the provider and kind pick it, the rest is its configuration. */
export type StackRequest = { provider: string; type: string } & Record<string, unknown>;

export interface EngineRunOptions {
  readonly stack: StackRequest;
  /** The state backend's and the cloud's variables: held in memory only, and redacted from every line of output. */
  readonly env: Readonly<Record<string, string>>;
  /** Aborting stops the running step (its process tree), letting it save its state first. */
  readonly signal: AbortSignal;
  /** Redacted output, in the order the engine wrote it. */
  readonly onOutput: (text: string) => void;
}

/** One operation's private workspace (its files, and the uid its processes run as). */
export interface EngineRun {
  /** Writes the stack into the workspace and readies the engine against the state backend. */
  init(opts: EngineRunOptions): Promise<void>;
  /** Plans (a destroy plan with `destroy`) and keeps the plan for `apply`. */
  plan(opts: { destroy: boolean }): Promise<Plan>;
  /** Applies exactly the kept plan; a state the backend refused at the end is pushed again before this returns. */
  apply(): Promise<void>;
  /** A stored state's outputs as `{ name: value }`, any credential the run was given redacted from them. */
  outputs(state: Buffer | null): Record<string, unknown>;
  /** Ends whatever the run started and removes its workspace; safe to call more than once. */
  dispose(): Promise<void>;
}

export interface InfrastructureEngine {
  /** Why runs are not isolated from each other on this host, or undefined when they are. */
  isolationWarning(): string | undefined;
  /** A new workspace; refused when runs could not be isolated from each other as configured. */
  open(): Promise<EngineRun>;
  /** Whether an error is a step stopped by its signal (rather than one that failed). */
  isStopped(e: unknown): boolean;
}
