import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { initOrm, migrate } from '../../src/db/orm.ts';
import { entities } from '../../src/modules/entities.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { BASE_DATABASE_URL, databaseUrl } from './env.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    runId: string;
    templateDb: string;
  }
}

/**
 * Once per run: a migrated template database that every test file clones (CREATE DATABASE ... TEMPLATE), and
 * removal of every database this run made.
 */
export default async function setup(project: TestProject) {
  const runId = randomBytes(4).toString('hex');
  const templateDb = `skyloft_t_${runId}_tpl`;
  await admin(`create database ${templateDb}`);
  const orm = await initOrm(databaseUrl(templateDb), entities, createLogger('silent'));
  await migrate(orm, createLogger('silent'));
  await orm.close();
  project.provide('runId', runId);
  project.provide('templateDb', templateDb);

  return async () => {
    const client = new pg.Client({ connectionString: BASE_DATABASE_URL });
    await client.connect();
    const { rows } = await client.query<{ datname: string }>('select datname from pg_database where datname like $1', [`skyloft_t_${runId}_%`]);
    for (const { datname } of rows) await client.query(`drop database if exists ${datname} with (force)`);
    await client.end();
  };
}

export async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: BASE_DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
