/**
 * File-name rules of the flat filesystem, checked by every backend before anything else.
 *
 * A name is a key, as in an object store: segments joined by `/` (`photos/2026/img_001.jpg`). No
 * directory objects exist; the folders that the layers above show are the prefixes of names.
 *
 * Why these rules: a name reaches host paths (directory backend, one host folder per segment) and
 * wire messages (remote client). Refusing empty, `.` and `..` segments, a leading or trailing `/`
 * and NUL here is what makes it impossible for a name to address anything outside the root, and it
 * makes each key map to exactly one host path (`a//b` and `a/./b` would alias `a/b`). Refusing lone
 * surrogates keeps the UTF-16 string and its UTF-8 bytes a faithful round trip, so two different
 * names never map to the same bytes. Lengths: LIMITS.MAX_NAME_BYTES for the whole key (S3's
 * limit) and LIMITS.MAX_SEGMENT_BYTES per segment (the host filesystems' NAME_MAX).
 */
import { FerryError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import { HIDDEN_PREFIX } from './types.js';

/** The one separator of name segments. */
export const SEPARATOR = '/';

// In `u` mode a paired surrogate is one code point, so only lone halves match.
const LONE_SURROGATE = /\p{Cs}/u;

const VALID_NAME_RULE =
  `a valid name is 1..${LIMITS.MAX_NAME_BYTES} UTF-8 bytes of segments joined by single '/'s, ` +
  `each segment 1..${LIMITS.MAX_SEGMENT_BYTES} bytes and not '.' or '..', with no NUL`;

/** Throws BAD_NAME or NAME_TOO_LONG unless `name` is a valid flat-filesystem name. */
export function validateName(name: unknown): asserts name is string {
  checkText(name, 'file name');
  if (name.length === 0) throw badName(`file name is empty`);
  const nameBytes = Buffer.byteLength(name, 'utf8');
  if (nameBytes > LIMITS.MAX_NAME_BYTES) {
    throw new FerryError('NAME_TOO_LONG', `file name is ${nameBytes} UTF-8 bytes: ${VALID_NAME_RULE}`, {
      nameBytes,
      maxNameBytes: LIMITS.MAX_NAME_BYTES,
    });
  }
  if (name.startsWith(SEPARATOR)) throw badName(`file name '${name}' starts with '/'`, name);
  if (name.endsWith(SEPARATOR)) throw badName(`file name '${name}' ends with '/' (a folder)`, name);
  for (const segment of name.split(SEPARATOR)) checkSegment(name, segment);
}

function checkSegment(name: string, segment: string): void {
  if (segment.length === 0) throw badName(`file name '${name}' has an empty segment ('//')`, name);
  if (segment === '.' || segment === '..') {
    throw badName(`file name '${name}' has a '${segment}' segment, which is reserved`, name);
  }
  const segmentBytes = Buffer.byteLength(segment, 'utf8');
  if (segmentBytes > LIMITS.MAX_SEGMENT_BYTES) {
    throw new FerryError(
      'NAME_TOO_LONG',
      `a segment of file name '${name}' is ${segmentBytes} UTF-8 bytes: ${VALID_NAME_RULE}`,
      { name, segmentBytes, maxSegmentBytes: LIMITS.MAX_SEGMENT_BYTES },
    );
  }
}

/** A string that could be part of a name: no NUL, well-formed Unicode (BAD_NAME otherwise). */
function checkText(text: unknown, what: string): asserts text is string {
  if (typeof text !== 'string') {
    throw new FerryError('BAD_NAME', `${what} must be a string, got ${typeof text}: ${VALID_NAME_RULE}`);
  }
  if (text.includes('\0')) {
    throw new FerryError('BAD_NAME', `${what} contains a NUL character: ${VALID_NAME_RULE}`, {
      name: text.replace(/\0/g, '\\0'),
    });
  }
  if (LONE_SURROGATE.test(text)) {
    throw new FerryError('BAD_NAME', `${what} is not valid Unicode (lone surrogate): ${VALID_NAME_RULE}`);
  }
}

function badName(what: string, name?: string): FerryError {
  return new FerryError('BAD_NAME', `${what}: ${VALID_NAME_RULE}`, name === undefined ? undefined : { name });
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

/**
 * Throws unless `prefix` may filter a listing: a string of at most MAX_NAME_BYTES, without NUL or
 * lone surrogates. Any such string is a valid filter (a prefix no name starts with lists nothing);
 * it never addresses a host path by itself.
 */
export function validatePrefix(prefix: unknown): asserts prefix is string {
  checkText(prefix, 'list prefix');
  const prefixBytes = Buffer.byteLength(prefix, 'utf8');
  if (prefixBytes > LIMITS.MAX_NAME_BYTES) {
    throw new FerryError(
      'NAME_TOO_LONG',
      `list prefix is ${prefixBytes} UTF-8 bytes: no name is longer than ${LIMITS.MAX_NAME_BYTES}`,
      { prefixBytes, maxNameBytes: LIMITS.MAX_NAME_BYTES },
    );
  }
}

/**
 * Throws unless `cursor` is a valid name or a folder (a valid name followed by `/`): what a list
 * page returns as `nextCursor`.
 */
export function validateCursor(cursor: unknown): asserts cursor is string {
  if (typeof cursor === 'string' && cursor.length > 1 && cursor.endsWith(SEPARATOR)) {
    validateName(cursor.slice(0, -1));
    return;
  }
  validateName(cursor);
}

/** The folders that hold `name`, outermost first: `a/b/c` -> [`a`, `a/b`]. */
export function parentsOf(name: string): string[] {
  const parents: string[] = [];
  for (let i = name.indexOf(SEPARATOR); i !== -1; i = name.indexOf(SEPARATOR, i + 1)) {
    parents.push(name.slice(0, i));
  }
  return parents;
}

/** The folder part of a prefix, up to and including its last `/` (`a/b/c` -> `a/b/`, `ab` -> ``). */
export function folderOf(prefix: string): string {
  return prefix.slice(0, prefix.lastIndexOf(SEPARATOR) + 1);
}

/**
 * True for internal names (in-progress transfers, journals) that `list` leaves out by default:
 * names whose first segment starts with HIDDEN_PREFIX, so a whole hidden folder (`.ferry~part/...`)
 * is internal too.
 */
export function isHiddenName(name: string): boolean {
  return name.startsWith(HIDDEN_PREFIX);
}

/**
 * The hidden name under which ferry keeps an internal `kind` of file (`part`, `journal`...) for the
 * user name `name`: `.ferry~<kind>/<name>`, one hidden folder tree per kind that mirrors the user's
 * tree. Why a tree per kind and not a suffix (`a.part`): a suffix on the last segment lets the
 * internal file of `a` (`a.part`) collide with the folder of a user name `a.part/x`; a mirrored tree
 * collides exactly when the user names collide. Null when the result would be too long (the caller
 * then needs a hashed name).
 */
export function internalName(kind: string, name: string): string | null {
  const internal = `${HIDDEN_PREFIX}${kind}${SEPARATOR}${name}`;
  return isValidName(internal) ? internal : null;
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
