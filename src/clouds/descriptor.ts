import type { z } from 'zod';
import type { FieldProblem } from '../shared/errors.ts';
import type { SandboxLedger } from './ports.ts';
import type { AdapterDeps, CloudInput, OpenedCloud } from './toolbox.ts';

/**
 * Everything Skyloft knows of one cloud, in one place (src/clouds/<provider>/descriptor.ts), listed once in
 * src/clouds/registry.ts. Its stacks live in stacks/<provider>/index.ts. docs/architecture.md says how to add one.
 */
export interface ProviderDescriptor {
  /** The provider's id in the API, the database and stacks/: lower-case letters and digits. */
  id: string;
  /** The schema a secret must match, picked from its raw fields (AWS: access keys or a role). Unknown fields refused. */
  secret: (raw: Record<string, unknown>) => z.ZodType;
  /** What the worker's host would do on the tenant's behalf with a well-shaped secret, refused here. */
  secretProblems?: (secret: Record<string, unknown>, policy: SecretPolicy) => FieldProblem[];
  /** The resource kinds this provider provisions: adding a kind is one entry here (plus its stack). */
  kinds: Readonly<Record<string, KindDescriptor>>;
  /** The largest spec (JSON bytes) accepted, where the schema alone does not bound it. */
  maxSpecBytes?: number;
  /** How a credential reaches terraform: environment variables only, plus the stack settings its endpoints imply. */
  terraformEnv: (secret: Record<string, unknown>, at: { region: string; endpoints: { api?: string; authorityHost?: string } }) => TerraformCloudEnv;
  /** Opens the inventory, health and cost readers. Imports the SDK lazily: a worker never loads a cloud it does not use. */
  open: (input: CloudInput, deps: OpenDeps) => Promise<OpenedCloud>;
}

export interface KindDescriptor {
  /** What a resource of this kind accepts as `spec`. */
  spec: z.ZodType<Record<string, unknown>>;
  /**
   * Drift: the spec fields naming the size and the inventory metadata fields reporting it, each read in order (the
   * first present wins). Without it, a resource of this kind never drifts, only goes missing.
   */
  drift?: { spec: readonly string[]; observed: readonly string[] };
}

export interface TerraformCloudEnv {
  env: Record<string, string>;
  stack: Record<string, unknown>;
}

export interface OpenDeps {
  adapter: AdapterDeps;
  /** What Skyloft provisioned with sandbox credentials (workers/clouds.ts). */
  sandbox?: SandboxLedger;
}

/** What the installation allows beyond a secret's shape. */
export interface SecretPolicy {
  /** SKYLOFT_AWS_HOST_IDENTITY. */
  awsHostIdentity: boolean;
  /** Why a URL named in a secret may not be called (the endpoint guard's request-time check), or undefined. */
  endpointProblem: (url: string) => string | undefined;
}
