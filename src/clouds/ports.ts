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
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    cause?: unknown,
  ) {
    super('cloud_throttled', 503, message, { retryable: true, cause });
  }
}

export class CloudAuthError extends AppError {
  constructor(message: string, cause?: unknown) {
    super('cloud_auth_failed', 422, message, { retryable: false, cause });
  }
}

export class CloudUnavailableError extends AppError {
  constructor(message: string, cause?: unknown) {
    super('cloud_unavailable', 503, message, { retryable: true, cause });
  }
}
