// What an API key may do: each role includes the ones after it (admin > operator > viewer).
export const apiRoles = ['admin', 'operator', 'viewer'] as const;
export type ApiRole = (typeof apiRoles)[number];

/**
 * What a caller may see and act on. A key bound to an owner (an instance's ownerEmail) reaches that
 * owner's instances and what hangs off them (operations, backups, events, usage, health,
 * invoices) only; anything else is reported as not found. `{}`: the whole fleet.
 */
export interface Scope {
  owner?: string;
}
