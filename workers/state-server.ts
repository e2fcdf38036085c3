import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Orm } from '../src/db/orm.ts';
import { StaleLockError, StateLockedError, type StateStore } from '../src/modules/state/index.ts';
import { AppError } from '../src/shared/errors.ts';

interface Grant {
  accountId: string;
  resourceId: string;
  /** The worker's lease on the resource's state lock: every write is fenced by it. */
  lockId: string;
}

/**
 * The state backend the worker's own terraform talks to, on 127.0.0.1 of the worker process. Each operation gets
 * a random one-time token (TF_HTTP_PASSWORD) valid for its resource only while it runs, so workers need neither an
 * API key nor a route to the API replicas. Writes go through the same StateStore as the public backend, fenced by
 * the worker's lease: a worker whose lease was taken over cannot write.
 */
export class WorkerStateServer {
  private readonly orm: Orm;
  private readonly state: StateStore;
  private readonly stateMaxBytes: number;
  private readonly grants = new Map<string, Grant>();
  private app: FastifyInstance | undefined;
  private baseUrl = '';

  constructor(orm: Orm, state: StateStore, stateMaxBytes: number) {
    this.orm = orm;
    this.state = state;
    this.stateMaxBytes = stateMaxBytes;
  }

  async start(): Promise<void> {
    const app = Fastify({ bodyLimit: this.stateMaxBytes });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    app.addHook('onRequest', async (req, reply) => {
      const grant = this.grantFor(req.headers.authorization, (req.params as { resourceId?: string }).resourceId);
      if (!grant) return reply.status(401).send({ error: 'unauthorized' });
      (req as unknown as { grant: Grant }).grant = grant;
    });
    app.setErrorHandler((err, _req, reply) => {
      if (err instanceof StateLockedError) return reply.status(423).send(err.holderInfo);
      if (err instanceof StaleLockError || err instanceof AppError) return reply.status(err.httpStatus).send({ error: err.message });
      return reply.status(500).send({ error: 'internal error' });
    });
    app.get('/state/:resourceId', async (req, reply) => {
      const { resourceId } = (req as unknown as { grant: Grant }).grant;
      const body = await this.state.latest(this.orm.em.fork(), resourceId);
      return body ? reply.type('application/json').send(body) : reply.status(204).send();
    });
    app.post('/state/:resourceId', async (req) => {
      const grant = (req as unknown as { grant: Grant }).grant;
      const md5 = req.headers['content-md5'];
      const row = await this.state.write(this.orm.em.fork(), {
        accountId: grant.accountId,
        resourceId: grant.resourceId,
        body: req.body as Buffer,
        lockId: grant.lockId,
        holder: 'worker',
        contentMd5: typeof md5 === 'string' ? md5 : undefined,
      });
      return { version: row.version };
    });
    this.baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
    this.app = app;
  }

  /**
   * TF_HTTP_* for one operation's terraform; revoke() when it ends. No lock address: the worker's lease is the lock,
   * so terraform's own locking is off and every write is fenced by the lease instead.
   */
  grant(grant: Grant): { env: Record<string, string>; revoke: () => void } {
    const token = randomBytes(24).toString('base64url');
    this.grants.set(token, grant);
    return {
      env: {
        TF_HTTP_ADDRESS: `${this.baseUrl}/state/${grant.resourceId}`,
        TF_HTTP_USERNAME: 'skyloft-worker',
        TF_HTTP_PASSWORD: token,
      },
      revoke: () => this.grants.delete(token),
    };
  }

  private grantFor(header: string | undefined, resourceId: string | undefined): Grant | undefined {
    if (!header?.startsWith('Basic ')) return undefined;
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const grant = this.grants.get(decoded.slice(decoded.indexOf(':') + 1));
    return grant && grant.resourceId === resourceId ? grant : undefined;
  }

  async stop(): Promise<void> {
    await this.app?.close();
  }
}
