import type { Job } from 'bullmq';
import { catalog, type JobName } from '../src/queue/catalog.ts';
import type { Runtime } from '../src/deps.ts';

/**
 * The orphan check of the job runner (workers/job-runner.ts): a job belongs to the row its catalog entry names
 * (`row`: table and payload field). When that row is not in this installation's database (a job queued by another
 * installation sharing the Redis prefix, say an earlier local install whose `.data/` was removed, or a row deleted
 * since), retrying cannot help: the job is completed at once with one warning instead of failing with "not found" on
 * every attempt. Payloads that do not parse, and rows the database cannot be asked about, are left to the processor
 * and BullMQ's retries as before.
 */
export function orphanCheck(rt: Runtime): (job: Job) => Promise<string | undefined> {
  return async (job) => {
    if (!Object.hasOwn(catalog, job.name)) return `no job named "${job.name}" in this version of Skyloft`;
    const entry = catalog[job.name as JobName];
    const parsed = entry.payload.safeParse(job.data);
    if (!parsed.success) return undefined;
    const id = (parsed.data as Record<string, string>)[entry.row.field];
    const rows = await rt.orm.em.getConnection().execute(`select 1 from ${entry.row.table} where id = ?`, [id]);
    return rows.length === 0 ? `no ${entry.row.table} row ${id} in this installation's database` : undefined;
  };
}
