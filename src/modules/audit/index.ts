// The audit module as other modules, the workers, src/http and the entry points use it (src/README.md).

export { AuditLog } from './entity.ts';
export { auditRoutes } from './routes.ts';
export { recordAudit, recordInstallationAudit, type AuditEntry, type InstallationActor } from './service.ts';
