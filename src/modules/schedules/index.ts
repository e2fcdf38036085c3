// The schedules module as other modules, the workers, src/http and the entry points use it (src/README.md).

export { AccountSchedule } from './entity.ts';
export { scheduleRoutes } from './routes.ts';
export { ScheduleService } from './service.ts';
