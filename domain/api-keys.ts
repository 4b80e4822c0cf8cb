// What an API key may do: each role includes the ones after it (admin > operator > viewer).
export const apiRoles = ['admin', 'operator', 'viewer'] as const;
export type ApiRole = (typeof apiRoles)[number];
