import type { RoleName } from './entities.ts';

const RANK: Record<RoleName, number> = { viewer: 0, operator: 1, admin: 2 };

export const roleAtLeast = (role: RoleName, needed: RoleName): boolean => RANK[role] >= RANK[needed];

/** A key never grants more than its user currently holds. */
export const lowerRole = (a: RoleName, b: RoleName): RoleName => (RANK[a] <= RANK[b] ? a : b);
