// The dashboard module as other modules, the workers, src/http and the entry points use it (src/README.md).

export { DashboardSession } from './entity.ts';
export { dashboardRoutes } from './routes.ts';
export { DashboardSessions, SESSION_COOKIE } from './sessions.ts';
