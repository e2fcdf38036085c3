import type { Em } from '../db/orm.ts';
import type { Actor } from '../shared/actor.ts';
import type { RoleName } from '../modules/accounts/index.ts';

// The request fields and route options src/http adds to Fastify's types.
declare module 'fastify' {
  interface FastifyRequest {
    /** A forked EntityManager for this request only. */
    em: Em;
    /** Set by the auth plugin on every /v1 route. */
    actor: Actor;
  }
  interface FastifyContextConfig {
    /** The lowest role allowed on an API-key route. Every route declares this or `public` (checked at start-up). */
    minRole?: RoleName;
    /** Not guarded by API keys: public (health, docs) or guarding itself (the dashboard's sessions, /metrics). */
    public?: boolean;
  }
}
