import { describe, expect, it } from 'vitest';
import { isConnectionError } from '../../src/db/connection-errors.ts';

describe('telling a lost PostgreSQL from a bad query', () => {
  it('counts socket codes, shutdown SQLSTATEs and the driver\'s codeless connection errors, also as a cause', () => {
    expect(isConnectionError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionError(new Error('Client has encountered a connection error and is not queryable'))).toBe(true);
    expect(isConnectionError(new Error('select failed', { cause: new Error('Connection terminated') }))).toBe(true);
  });

  it('does not count query errors', () => {
    expect(isConnectionError(Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' }))).toBe(false);
    expect(isConnectionError(new Error('column "x" does not exist'))).toBe(false);
    expect(isConnectionError(undefined)).toBe(false);
  });
});
