// Row ids, one scheme for every table: any module that inserts rows takes its ids from here.
import { randomBytes } from 'node:crypto';

// Crockford's base32 alphabet, lowercase: still in ASCII order, so ids compare as their times do.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * `prefix_` + 26 Crockford base32 characters: 48 bits of milliseconds then 80 random bits (the
 * ULID layout), so ids sort by creation time and serve as pagination cursors.
 */
export function newId(prefix: 'ins' | 'op' | 'key' | 'inv' | 'whk' | 'evt' | 'dlv' | 'swp' | 'bak'): string {
  let time = Date.now();
  let head = '';
  for (let i = 0; i < 10; i++) {
    head = ALPHABET[time % 32] + head;
    time = Math.floor(time / 32);
  }
  let tail = '';
  for (const byte of randomBytes(16)) tail += ALPHABET[byte % 32];
  return `${prefix}_${head}${tail}`;
}
