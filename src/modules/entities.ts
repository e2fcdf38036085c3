import { Account, ApiKey, User } from './accounts/entities.ts';
import { AuditLog } from './audit/entity.ts';
import { Credential } from './credentials/entity.ts';

/** The explicit entity list (no folder discovery). Each new module adds its entities here. */
export const entities = [Account, User, ApiKey, Credential, AuditLog];
