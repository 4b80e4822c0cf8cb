// Input rules for instances. Pure functions, shared by the API schemas and tests.
import slugify from '@sindresorhus/slugify';

export const reservedSlugs: ReadonlySet<string> = new Set([
  'www', 'api', 'admin', 'app', 'mail', 'ftp', 'ns1', 'ns2', 'shipyard',
  'smtp', 'imap', 'pop', 'status', 'docs', 'help', 'support', 'dashboard', 'console', 'static', 'cdn',
]);

export const SLUG_MIN = 3;
export const SLUG_MAX = 40;
export const slugPattern = '^[a-z][a-z0-9-]*[a-z0-9]$';
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

/**
 * A slug derived from a display name: ASCII-folded, lowercased, hyphenated, trimmed to fit.
 * `taken` tells whether a candidate is in use; collisions get a short suffix.
 */
export async function slugFromName(name: string, taken: (slug: string) => Promise<boolean>): Promise<string> {
  let base = slugify(name, { separator: '-', lowercase: true, decamelize: false });
  if (!/^[a-z]/.test(base)) base = `i-${base}`;
  base = base.slice(0, SLUG_MAX).replace(/-+$/, '');
  if (base.length < SLUG_MIN) base = `${base}-app`.replace(/^-+/, '');
  const candidates = [base];
  if (reservedSlugs.has(base)) candidates.length = 0;
  for (let n = 2; n < 100; n++) candidates.push(`${base.slice(0, SLUG_MAX - 1 - String(n).length)}-${n}`);
  for (const candidate of candidates) {
    if (slugProblem(candidate) === undefined && !(await taken(candidate))) return candidate;
  }
  throw new Error(`could not derive a free slug from "${name}"`);
}
