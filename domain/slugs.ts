// Slugs derived from display names, for a create request that gives none.
import slugify from '@sindresorhus/slugify';
import { reservedSlugs, SLUG_MAX, SLUG_MIN, slugProblem } from './validation';

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
