/**
 * What Skyloft needs from a cloud, independent of its SDK. Each adapter (aws/, azure/, gcp/, sandbox/) implements
 * these and is the only code importing that cloud's SDK; adapters translate SDK errors into AppErrors
 * (CloudThrottledError retryable, CloudAuthError not).
 */
import { AppError } from '../shared/errors.ts';

export type InventoryType = 'vm' | 'storage' | 'network';

/** One cloud object, normalized. `status` for vms: pending, running, stopping, stopped, terminated or unknown. */
export interface ObservedItem {
  /** The cloud's own id: EC2 i-/vol-/vpc-..., the Azure resource id, the GCP numeric id as a string. */
  externalId: string;
  name: string | null;
  type: InventoryType;
  status: string;
  /** The cloud's raw essentials (instance type, size, zone, ...), small and JSON. */
  metadata: Record<string, unknown>;
  /** Tags (AWS, Azure) or labels (GCP); keys as the cloud has them. */
  tags: Record<string, string>;
  /**
   * The item's own region, when a scope spans several ('global' scopes of subscription- or project-wide lists).
   * Unset: the scope's region.
   */
  region?: string;
}

/** One listing unit: a kind of object in one region ("global" for region-less kinds such as S3 buckets). */
export interface Scope {
  region: string;
  /** e.g. "ec2:instance", "s3:bucket", "compute:virtualMachine", "gce:instance". */
  kind: string;
}

export interface InventoryReader {
  /** Every scope to list: the account's enabled regions (or the credential's configured ones) times its kinds. */
  scopes(): Promise<Scope[]>;
  /** Pages of one scope, followed to the end; the caller stops early by breaking out of the loop. */
  list(scope: Scope, signal?: AbortSignal): AsyncIterable<ObservedItem[]>;
}

export interface HealthProbe {
  /** One cheap authenticated call; throws a CloudError when the cloud refuses. */
  probe(signal?: AbortSignal): Promise<void>;
}

export class CloudThrottledError extends AppError {
  readonly retryAfterMs?: number;

  constructor(message: string, retryAfterMs?: number, cause?: unknown) {
    super('cloud_throttled', 503, message, { retryable: true, cause });
    this.retryAfterMs = retryAfterMs;
  }
}

export class CloudAuthError extends AppError {
  constructor(message: string, cause?: unknown) {
    super('cloud_auth_failed', 422, message, { retryable: false, cause });
  }
}

/**
 * The endpoint presented a TLS certificate this process does not accept (src/shared/certificates.ts names why and
 * the fix). Not retryable: it fails the same way until someone changes the certificate or the trust.
 */
export class CloudCertificateError extends AppError {
  constructor(message: string, cause?: unknown) {
    super('cloud_tls_certificate', 422, message, { retryable: false, cause });
  }
}

export class CloudUnavailableError extends AppError {
  constructor(message: string, cause?: unknown) {
    super('cloud_unavailable', 503, message, { retryable: true, cause });
  }
}

/** One object of a sandbox resource's Terraform state: a `terraform_data`'s id and its input, as terraform applied it. */
export interface SandboxObject {
  id: string;
  input: Record<string, unknown>;
}

/** A resource Skyloft provisioned with a sandbox credential, whatever its status (destroyed ones were billed too). */
export interface SandboxResource {
  resourceId: string;
  type: InventoryType;
  region: string;
  createdAt: Date;
  destroyedAt: Date | null;
  /** The objects of its newest state version that holds any: for a destroyed resource, what it held before. */
  objects: SandboxObject[];
  /** Whether its newest state version holds them: they exist in the sandbox now. */
  live: boolean;
}

/** The sandbox "cloud" of one credential, as Skyloft's own records know it; only the credential's own account. */
export interface SandboxAccount {
  accountId: string;
  /** When the credential was registered: the sandbox's other objects date from before it. */
  registeredAt: Date;
  /** Oldest first. */
  resources: SandboxResource[];
}

/**
 * The sandbox has no cloud account behind it: what it "provisioned" is the `terraform_data` of each resource's
 * Terraform state, which Skyloft keeps. The sandbox adapter lists and bills that (src/clouds/sandbox).
 */
export interface SandboxLedger {
  read(credentialId: string): Promise<SandboxAccount>;
}

/** Days as YYYY-MM-DD (UTC); `to` is exclusive. */
export interface CostRange {
  from: string;
  to: string;
}

/** One billed amount: a day, a service, a resource (or none) and a currency, as the cloud reported it. */
export interface CostLine {
  /** Usage day, YYYY-MM-DD (UTC). */
  date: string;
  /** The cloud's own service name ("Amazon Elastic Compute Cloud - Compute", "Virtual Machines", "Compute Engine"). */
  service: string;
  /**
   * The resource as inventory knows it (its externalId: EC2 `i-...`/`vol-...`, the Azure resource id, the GCE numeric
   * id as a string), or null for cost not attributable to one resource.
   */
  resourceId: string | null;
  /** Where it was billed: the AWS linked account, the Azure subscription, the GCP project. */
  billingAccount: string;
  /** ISO 4217 code as the cloud gave it. */
  currency: string;
  /** A decimal string exactly as the cloud gave it, never through a float sum. */
  amount: string;
}

/** What a collection tells its caller besides the lines: every paid request, and what it could not do. */
export interface CostProgress {
  /** Called once per request the cloud charges for (AWS Cost Explorer: every GetCostAndUsage* page). */
  paidRequest(): void;
  /** Something the user should know that does not fail the collection (resource-level cost not enabled, ...). */
  notice(message: string): void;
}

export interface CostReader {
  /**
   * The daily cost of `range`, every page followed to the end, in pages of lines. Where the cloud reports cost per
   * resource, a (day, service, billing account) is split into its resources plus one line with resourceId null for
   * the rest, so the lines of one day always add up to the cloud's own total for it. Throws CloudAuthError when the
   * credential may not read billing data.
   */
  collect(range: CostRange, progress: CostProgress, signal?: AbortSignal): AsyncIterable<CostLine[]>;
}
