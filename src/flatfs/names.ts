/**
 * File-name rules of the flat filesystem, checked by every backend before anything else.
 *
 * Why: a name reaches host paths (directory backend) and wire messages (remote client). Refusing
 * `/`, NUL, `.` and `..` here is what makes it impossible for a name to address anything outside
 * the one flat namespace; refusing lone surrogates keeps the UTF-16 string and its UTF-8 bytes a
 * faithful round trip, so two different names never map to the same bytes.
 */
import { FerryError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { HIDDEN_PREFIX } from './types.js';

// In `u` mode a paired surrogate is one code point, so only lone halves match.
const LONE_SURROGATE = /\p{Cs}/u;

const VALID_NAME_RULE = `a valid name is 1..${LIMITS.MAX_NAME_BYTES} UTF-8 bytes, without '/' or NUL, and not '.' or '..'`;

/** Throws BAD_NAME or NAME_TOO_LONG unless `name` is a valid flat-filesystem name. */
export function validateName(name: unknown): asserts name is string {
  if (typeof name !== 'string') {
    throw new FerryError('BAD_NAME', `file name must be a string, got ${typeof name}: ${VALID_NAME_RULE}`);
  }
  if (name.length === 0) throw new FerryError('BAD_NAME', `file name is empty: ${VALID_NAME_RULE}`);
  if (name === '.' || name === '..') {
    throw new FerryError('BAD_NAME', `file name '${name}' is reserved: ${VALID_NAME_RULE}`, { name });
  }
  if (name.includes('/')) {
    throw new FerryError('BAD_NAME', `file name contains '/': ${VALID_NAME_RULE}`, { name });
  }
  if (name.includes('\0')) {
    throw new FerryError('BAD_NAME', `file name contains a NUL character: ${VALID_NAME_RULE}`, {
      name: name.replace(/\0/g, '\\0'),
    });
  }
  if (LONE_SURROGATE.test(name)) {
    throw new FerryError('BAD_NAME', `file name is not valid Unicode (lone surrogate): ${VALID_NAME_RULE}`);
  }
  const nameBytes = Buffer.byteLength(name, 'utf8');
  if (nameBytes > LIMITS.MAX_NAME_BYTES) {
    throw new FerryError('NAME_TOO_LONG', `file name is ${nameBytes} UTF-8 bytes: ${VALID_NAME_RULE}`, {
      nameBytes,
      maxNameBytes: LIMITS.MAX_NAME_BYTES,
    });
  }
}

/** validateName as a test: true when `name` is a valid flat-filesystem name. */
export function isValidName(name: unknown): name is string {
  try {
    validateName(name);
    return true;
  } catch {
    return false;
  }
}

/** True for internal names (in-progress transfers, journals) that `list` leaves out by default. */
export function isHiddenName(name: string): boolean {
  return name.startsWith(HIDDEN_PREFIX);
}

/**
 * Orders names by their UTF-8 bytes (the order `list` promises), without encoding them: UTF-8 byte
 * order is code-point order, which differs from JavaScript's UTF-16 order above U+FFFF.
 */
export function compareNames(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.codePointAt(i) ?? 0;
    const cb = b.codePointAt(j) ?? 0;
    if (ca !== cb) return ca < cb ? -1 : 1;
    i += ca > 0xffff ? 2 : 1;
    j += cb > 0xffff ? 2 : 1;
  }
  return a.length - i - (b.length - j);
}
