import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { BaseAdapter } from '@bull-board/api/baseAdapter';
import type { AppControllerRoute, BullBoardQueues, IServerAdapter, UIConfig } from '@bull-board/api/typings/app';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyReply } from 'fastify';
import { accountJobs } from '../../queue/account-jobs.ts';
import { QUEUE_NAMES, type Queues } from '../../queue/catalog.ts';
import { AccountQueueAdapter } from './account-board.ts';

/** Where the dashboard lives; bull-board's UI builds its asset and API URLs from this. */
export const BOARD_PATH = '/admin/queues';
/** The sign-in form's page; POST /sign-in and POST /admin/sign-in both sign in (the contract's "Browser sessions"). */
export const SIGN_IN_PATH = '/admin/sign-in';
export const SIGN_OUT_PATH = '/admin/sign-out';
export const SIGN_IN_PATHS = ['/sign-in', SIGN_IN_PATH];
export const SIGN_OUT_PATHS = ['/sign-out', SIGN_OUT_PATH];

/**
 * A bull-board server adapter that registers nothing: it keeps what createBullBoard hands it (the API routes, the
 * queues, the UI config) so routes.ts can answer each API call from the board of the caller's session.
 */
class BoardCollector implements IServerAdapter {
  routes: AppControllerRoute[] = [];
  queues: BullBoardQueues = new Map();
  config: UIConfig = {};

  setQueues(queues: BullBoardQueues) {
    this.queues = queues;
    return this;
  }
  setApiRoutes(routes: AppControllerRoute[]) {
    this.routes = routes;
    return this;
  }
  setUIConfig(config: UIConfig = {}) {
    this.config = config;
    return this;
  }
  setViewsPath() {
    return this;
  }
  setStaticPath() {
    return this;
  }
  setEntryRoute() {
    return this;
  }
  setErrorHandler() {
    return this;
  }
}

export interface Board {
  queues: BullBoardQueues;
  uiConfig: UIConfig;
  /** bull-board's handler for `METHOD /api/...` (its own route pattern), if it has one. */
  handler(method: string, route: string): AppControllerRoute['handler'] | undefined;
}

export interface Boards {
  /**
   * Every action (retry, promote, clean, pause, remove...) when `readOnly` is false; none when true. Over every
   * account's jobs: an installation key's board. An account's session gets accountBoard's queues instead.
   */
  board(readOnly: boolean): Board;
  /** One account's view of every queue (AccountQueueAdapter): for its sessions, with the board's handlers. */
  accountQueues(accountId: string, readOnly: boolean): BullBoardQueues;
  /** The Fastify plugin serving the UI (entry page and static assets) under BOARD_PATH. */
  ui: ReturnType<FastifyAdapter['registerPlugin']>;
  /** Every API route of bull-board: the set routes.ts registers. */
  routes: { method: string[]; route: string }[];
}

const options = { uiConfig: { boardTitle: 'Skyloft queues', hideDocsLink: true, miscLinks: [{ text: 'Sign out', url: SIGN_OUT_PATH }] } };

/**
 * Two bull-board instances over every Skyloft queue, one read-only: bull-board's read-only mode is a property of
 * each queue adapter, fixed when its board is made, so a per-role view needs one board per mode. The read-only
 * board reports readOnlyMode to the UI (which then shows no action buttons) and refuses mutations itself; routes.ts
 * refuses them with 403 before that. Both share the same BullMQ Queue objects (one Redis connection), and are made
 * on first use, so building the app (tests build many) touches no queue. An account's session is answered by the
 * same handlers over queue adapters scoped to its account, made per request (they hold no connection of their own).
 */
export function createBoards(queues: Queues): Boards {
  const collect = (adapters: BaseAdapter[]) => {
    const collector = new BoardCollector();
    createBullBoard({ queues: adapters, serverAdapter: collector, options });
    return collector;
  };
  const made = new Map<boolean, Board>();
  const board = (readOnly: boolean): Board => {
    let found = made.get(readOnly);
    if (!found) {
      const c = collect(queueAdapters(queues, readOnly));
      found = {
        queues: c.queues,
        uiConfig: c.config,
        handler: (method, route) => c.routes.find((r) => methods(r).includes(method) && paths(r).includes(route))?.handler,
      };
      made.set(readOnly, found);
    }
    return found;
  };

  // The UI (entry page and /static assets) through bull-board's own Fastify adapter, with no queues and no API
  // routes: ours answer those. @bull-board/fastify pins its own copy of @bull-board/api, whose types are
  // nominally distinct from ours though identical in shape, hence the cast.
  const ui = new FastifyAdapter().setBasePath(BOARD_PATH);
  createBullBoard({ queues: [], serverAdapter: ui as unknown as IServerAdapter, options });
  ui.setApiRoutes([]);

  const jobs = accountJobs(queues);
  const accountQueues = (accountId: string, readOnly: boolean): BullBoardQueues =>
    new Map(QUEUE_NAMES.map((name) => [name, withRedaction(new AccountQueueAdapter(queues.get(name), { queueName: name, accountId, jobs }, adapterOptions(name, readOnly)))]));

  const uiPlugin = ui.registerPlugin();
  return {
    board,
    accountQueues,
    ui: (scope, opts, done) => {
      scope.addHook('onSend', async (_request, reply, payload) => (isHtml(reply) && typeof payload === 'string' ? withoutExternalLinks(payload) : payload));
      uiPlugin(scope, opts, done);
    },
    routes: collect([]).routes.flatMap((r) => paths(r).map((route) => ({ method: methods(r), route }))),
  };
}

/**
 * bull-board's entry page (@bull-board/ui dist/index.ejs) links IBM Plex from fonts.googleapis.com: a request to
 * another origin on every visit, which fails offline, tells Google who is looking, and the page's CSP blocks anyway
 * (src/http/plugins/page-policy.ts). Dropped, so the page uses the system fonts its CSS names after IBM Plex.
 */
function withoutExternalLinks(html: string): string {
  return html.replace(/<link\b[^>]*\bhref=["']?(?:[a-z][a-z0-9+.-]*:)?\/\/[^>]*>\s*/gi, '');
}

const isHtml = (reply: FastifyReply) => String(reply.getHeader('content-type') ?? '').startsWith('text/html');

function queueAdapters(queues: Queues, readOnlyMode: boolean): BaseAdapter[] {
  return QUEUE_NAMES.map((name) => withRedaction(new BullMQAdapter(queues.get(name), adapterOptions(name, readOnlyMode))));
}

const adapterOptions = (name: string, readOnlyMode: boolean) => ({ readOnlyMode, allowRetries: !readOnlyMode, description: describe(name) });

function withRedaction<A extends BaseAdapter>(adapter: A): A {
  // Payloads carry ids only (src/queue/catalog.ts); this is a second fence should a field ever hold more.
  adapter.setFormatter('data', redactSecrets);
  return adapter;
}

const methods = (r: AppControllerRoute) => [r.method].flat().map((m) => m.toUpperCase());
const paths = (r: AppControllerRoute) => [r.route].flat();

const DESCRIPTIONS: Record<string, string> = {
  provisioning: 'Terraform plan and apply of resource operations',
  inventory: 'Inventory sync runs: plan, one job per region and kind, finish',
  health: 'Provider API health checks',
  cost: 'Cost collection runs',
};
const describe = (name: string) => DESCRIPTIONS[name] ?? '';

const SECRET_KEY = /secret|password|passwd|token|credential(?!Id)|private|apikey|api_key/i;

/** Replaces the value of any key that looks like it names a secret. Ids (credentialId, checkId...) pass. */
export function redactSecrets(data: unknown): unknown {
  if (Array.isArray(data)) return data.map(redactSecrets);
  if (typeof data !== 'object' || data === null) return data;
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, SECRET_KEY.test(k) ? '[redacted]' : redactSecrets(v)]));
}
