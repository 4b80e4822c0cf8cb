// What the signed-in key may do, from GET /v1/me: the pages offer nothing more.
import type { Me, Role } from './types';

const rank: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

export const may = (me: Me, role: Role): boolean => rank[me.role] >= rank[role];

/** Rollouts, webhooks and invoice runs cover the whole fleet: a key bound to an owner is refused them. */
export const fleetWide = (me: Me): boolean => me.owner === undefined;
