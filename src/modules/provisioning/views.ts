import { iso } from '../../shared/time.ts';
import type { Operation, Resource } from './entities.ts';

export function resourceView(r: Resource) {
  return {
    id: r.id,
    name: r.name,
    provider: r.provider,
    type: r.type,
    region: r.region,
    credentialId: r.credentialId ?? null,
    networkResourceId: r.networkResourceId ?? null,
    spec: r.spec,
    status: r.status,
    outputs: r.outputs,
    drift: r.drift ?? null,
    destroyedAt: iso(r.destroyedAt),
    forgottenAt: iso(r.forgottenAt),
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
  };
}

export function operationView(o: Operation) {
  return {
    id: o.id,
    resourceId: o.resourceId,
    kind: o.kind,
    status: o.status,
    step: o.step,
    autoApprove: o.autoApprove,
    attempts: o.attempts,
    error: o.error ?? null,
    planSummary: o.planSummary ?? null,
    approvedAt: iso(o.approvedAt),
    cancelRequestedAt: iso(o.cancelRequestedAt),
    createdAt: iso(o.createdAt),
    startedAt: iso(o.startedAt),
    finishedAt: iso(o.finishedAt),
  };
}
