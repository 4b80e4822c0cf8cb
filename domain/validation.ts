// Input rules for instances. Pure functions and patterns, with no imports, shared by the API schemas,
// the operation table (which workflow code loads) and tests.

export const reservedSlugs: ReadonlySet<string> = new Set([
  'www', 'api', 'admin', 'app', 'mail', 'ftp', 'ns1', 'ns2', 'shipyard',
  'smtp', 'imap', 'pop', 'status', 'docs', 'help', 'support', 'dashboard', 'console', 'static', 'cdn',
]);

export const SLUG_MIN = 3;
export const SLUG_MAX = 40;
export const slugPattern = '^[a-z][a-z0-9-]*[a-z0-9]$';
/**
 * Free text: no control characters (Postgres cannot store NUL, and a newline in a name is a
 * mistake) and at least one character that is not a space.
 */
export const textPattern = '^(?=.*\\S)[^\\u0000-\\u001f\\u007f]+$';
export const versionPattern = '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$';

/** Returns why `slug` is not acceptable, or undefined when it is. */
export function slugProblem(slug: string): string | undefined {
  if (slug.length < SLUG_MIN || slug.length > SLUG_MAX) return `must be ${SLUG_MIN}–${SLUG_MAX} characters`;
  if (!/^[a-z0-9-]+$/.test(slug)) return 'may contain only lowercase letters, digits and hyphens';
  if (!/^[a-z]/.test(slug)) return 'must start with a letter';
  if (slug.endsWith('-')) return 'must not end with a hyphen';
  if (reservedSlugs.has(slug)) return `"${slug}" is reserved`;
  return undefined;
}

export function versionProblem(version: string): string | undefined {
  return new RegExp(versionPattern).test(version)
    ? undefined
    : 'must be 1–128 of A-Z a-z 0-9 _ . - and not start with "." or "-"';
}

/** A cluster's name: lower-case letters, digits and dashes (it names a task queue and shows in labels). */
export const clusterNamePattern = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';

/** A region's name (1–64 of them): lower-case letters, digits and dashes, as a cluster worker declares it. */
export const regionPattern = '^[a-z0-9-]+$';
