// The health module as other modules, the workers, src/http and the entry points use it (src/README.md).

export { HealthCheck } from './entity.ts';
export { healthRoutes } from './routes.ts';
export { HealthService } from './service.ts';
