import { describe, expect, it } from 'vitest';
import { slugFromName } from '../../domain/slugs';
import { slugProblem, versionProblem } from '../../domain/validation';

describe('slug rules', () => {
  it.each(['acme', 'acme-corp', 'a1b', 'x'.repeat(40)])('accepts %s', (slug) => {
    expect(slugProblem(slug)).toBeUndefined();
  });

  it.each([
    ['ab', /3–40/],
    ['x'.repeat(41), /3–40/],
    ['Acme', /lowercase/],
    ['acme_corp', /lowercase/],
    ['1acme', /start with a letter/],
    ['acme-', /end with a hyphen/],
    ['admin', /reserved/],
    ['shipyard', /reserved/],
  ])('rejects %s', (slug, why) => {
    expect(slugProblem(slug)).toMatch(why);
  });
});

describe('version rules', () => {
  it.each(['1.0.0', 'v2', 'fail-1.0', 'latest', '2024_01.rc-1'])('accepts %s', (v) => expect(versionProblem(v)).toBeUndefined());
  it.each(['', '.hidden', '-x', 'a b', 'x'.repeat(129), 'sha256:abc'])('rejects %j', (v) => expect(versionProblem(v)).toBeDefined());
});

describe('slug from a display name', () => {
  const free = async () => false;

  it('folds to ASCII and hyphenates', async () => {
    expect(await slugFromName('Crème Brûlée & Co', free)).toBe('creme-brulee-and-co');
    expect(await slugFromName('Zürich Öl GmbH', free)).toBe('zuerich-oel-gmbh');
  });

  it('makes a name that starts with a digit start with a letter', async () => {
    expect(slugProblem(await slugFromName('42 Labs', free))).toBeUndefined();
  });

  it('trims long names to 40 characters without a trailing hyphen', async () => {
    const slug = await slugFromName('The Extraordinarily Long Company Name Of Many Words', free);
    expect(slug.length).toBeLessThanOrEqual(40);
    expect(slugProblem(slug)).toBeUndefined();
  });

  it('resolves collisions and reserved words with a suffix', async () => {
    const taken = new Set(['acme', 'acme-2']);
    expect(await slugFromName('Acme', async (s) => taken.has(s))).toBe('acme-3');
    expect(await slugFromName('Admin', free)).toBe('admin-2');
  });

  it('pads names too short to be a slug', async () => {
    expect(slugProblem(await slugFromName('X', free))).toBeUndefined();
  });
});
