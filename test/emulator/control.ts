import { z } from 'zod';
import type { Faults } from './faults.ts';
import type { Fleet } from './fleet.ts';
import type { Spend } from './spend.ts';
import { json, type Request, type Response } from './http.ts';
import { KINDS } from './options.ts';

/**
 * The emulator's own HTTP API, answered under /_emulator/ on every one of its origins, for a test or benchmark that
 * runs the emulator in another process. It mirrors the in-process `fleet`, `faults` and `revoke`.
 *
 *   POST /_emulator/mutate       { create?: CreateSpec[], delete?: id[], change?: ({ id } & Changes)[] }
 *   POST /_emulator/faults       { add?: FaultSpec[], clear?: true | faultId[] }   GET /_emulator/faults
 *   POST /_emulator/credentials  { revoke: (accessKeyId | Azure clientId | GCP client_email)[] }
 *   GET  /_emulator/calls        every counter ('aws:DescribeInstances', 'aws:DescribeInstances:us-east-1', ...)
 *   POST /_emulator/calls/reset
 *   GET  /_emulator/ids?cloud=aws&kind=instances[&region=us-east-1][&limit=10]
 *   GET  /_emulator/count?cloud=aws&kind=instances[&region=us-east-1]
 *   POST /_emulator/spend        { restate?: { cloud, fromDay }[], denyBilling?: principal[], allowBilling?: principal[] }
 *   GET  /_emulator/stats[?gc=1] { memory: process.memoryUsage(), collected, calls, faults }
 */
const cloud = z.enum(['aws', 'azure', 'gcp']);
const changes = {
  state: z.string().optional(),
  type: z.string().optional(),
  sizeGb: z.number().int().positive().optional(),
  tags: z.record(z.string(), z.string()).optional(),
};
const mutation = z.object({
  create: z.array(z.object({ cloud, kind: z.string(), region: z.string(), ...changes })).default([]),
  delete: z.array(z.string()).default([]),
  change: z.array(z.object({ id: z.string(), ...changes })).default([]),
});
const faultSpec = z.object({
  cloud,
  operation: z.string().optional(),
  region: z.string().optional(),
  kind: z.enum(['throttle', 'server-error', 'latency', 'auth']),
  probability: z.number().min(0).max(1).optional(),
  everyNth: z.number().int().positive().optional(),
  count: z.number().int().positive().optional(),
  latencyMs: z.number().int().nonnegative().optional(),
  status: z.number().int().min(500).max(599).optional(),
  retryAfterSeconds: z.number().int().nonnegative().optional(),
});
const faultsBody = z.object({ add: z.array(faultSpec).default([]), clear: z.union([z.literal(true), z.array(z.string())]).optional() });
const spendBody = z.object({
  restate: z.array(z.object({ cloud, fromDay: z.iso.date() })).default([]),
  denyBilling: z.array(z.string()).default([]),
  allowBilling: z.array(z.string()).default([]),
});
const lookup = z.object({ cloud, kind: z.string(), region: z.string().optional(), limit: z.coerce.number().int().positive().default(10) });

export interface Control {
  fleet: Fleet;
  spend: Spend;
  faults: Faults;
  revoke: (id: string) => boolean;
}

export function isControl(req: Request): boolean {
  return req.url.pathname.startsWith('/_emulator/');
}

export async function control(req: Request, c: Control): Promise<Response> {
  const route = `${req.method} ${req.url.pathname.slice('/_emulator'.length)}`;
  const body = () => JSON.parse(req.body || '{}') as unknown;
  const query = () => Object.fromEntries(req.url.searchParams);
  try {
    switch (route) {
      case 'POST /mutate': {
        const m = mutation.parse(body());
        const created = m.create.map((spec) => c.fleet.create(spec).id);
        const deleted = m.delete.filter((id) => c.fleet.delete(id));
        const changed = m.change.filter(({ id, ...rest }) => c.fleet.change(id, rest)).map((ch) => ch.id);
        const missing = [...m.delete.filter((id) => !deleted.includes(id)), ...m.change.map((ch) => ch.id).filter((id) => !changed.includes(id))];
        return json(200, { created, deleted, changed, missing });
      }
      case 'POST /faults': {
        const f = faultsBody.parse(body());
        if (f.clear === true) c.faults.clear();
        else for (const id of f.clear ?? []) c.faults.clear(id);
        const added = f.add.map((spec) => c.faults.add(spec).id);
        return json(200, { added, faults: c.faults.list() });
      }
      case 'POST /spend': {
        const s = spendBody.parse(body());
        for (const r of s.restate) c.spend.restate(r.cloud, r.fromDay);
        for (const id of s.denyBilling) c.spend.billingDenied.add(id);
        for (const id of s.allowBilling) c.spend.billingDenied.delete(id);
        return json(200, { billingDenied: [...c.spend.billingDenied] });
      }
      case 'GET /faults':
        return json(200, { faults: c.faults.list() });
      case 'POST /credentials': {
        const { revoke } = z.object({ revoke: z.array(z.string()) }).parse(body());
        return json(200, { revoked: revoke.filter((id) => c.revoke(id)) });
      }
      case 'GET /calls':
        return json(200, c.faults.allCalls());
      case 'POST /calls/reset':
        c.faults.resetCalls();
        return json(200, {});
      case 'GET /ids': {
        const q = lookup.parse(query());
        return json(200, { ids: c.fleet.ids(q.cloud, checkKind(q.cloud, q.kind), q.region, q.limit) });
      }
      case 'GET /count': {
        const q = lookup.parse(query());
        return json(200, { count: c.fleet.count(q.cloud, checkKind(q.cloud, q.kind), q.region) });
      }
      case 'GET /stats': {
        // ?gc=1 collects first when the process runs with --expose-gc, so heapUsed compares across calls.
        const gc = (globalThis as { gc?: () => void }).gc;
        if (req.url.searchParams.get('gc') === '1') gc?.();
        return json(200, { memory: process.memoryUsage(), collected: gc !== undefined, calls: c.faults.allCalls(), faults: c.faults.list() });
      }
      default:
        return json(404, { error: `No emulator route '${route}': see test/emulator/control.ts for the list` });
    }
  } catch (err) {
    return json(400, { error: err instanceof z.ZodError ? z.prettifyError(err) : (err as Error).message });
  }
}

function checkKind(c: keyof typeof KINDS, kind: string): string {
  if (!(KINDS[c] as readonly string[]).includes(kind)) throw new Error(`Unknown ${c} kind '${kind}': use one of ${KINDS[c].join(', ')}`);
  return kind;
}
