/**
 * Names as the server sees them: user names are checked (valid flat-fs names, never HIDDEN_PREFIX),
 * and each in-progress upload gets a hidden part file and journal derived from its final name.
 *
 * Why: a user must not be able to read, overwrite or publish another transfer's temporary file, and
 * a partial upload must never be visible under its final name.
 */
import { createHash } from 'node:crypto';
import { FerryError } from '../core/errors.js';
import { internalName, isHiddenName, validateName } from '../flatfs/names.js';
import { HIDDEN_PREFIX } from '../flatfs/types.js';

/** Throws BAD_NAME / NAME_TOO_LONG for a name a user may not use. */
export function checkUserName(name: string): void {
  validateName(name);
  if (isHiddenName(name)) {
    throw new FerryError(
      'BAD_NAME',
      `names starting with "${HIDDEN_PREFIX}" are reserved for transfers in progress: choose another name`,
      { name },
    );
  }
}

/** The hidden files of one upload. */
export interface UploadNames {
  part: string;
  journal: string;
  journalTmp: string;
}

/** The kinds of an upload's hidden files, as the first segment after HIDDEN_PREFIX. */
const KINDS = { part: 'part', journal: 'journal', journalTmp: 'jtmp' } as const;
/**
 * Marks a hashed upload name: `.ferry~h-<sha-256 of the name, 32 hex>.<kind>`. It holds no `/`, so
 * it can never be one of the mirrored names (`.ferry~part/...`: a `/` right after the kind).
 */
const HASHED_MARK = 'h-';
const HASHED_HEX_CHARS = 32;

/**
 * The hidden names of an upload's data and journal: the name under one hidden folder per kind
 * (`.ferry~part/photos/a.jpg`; see internalName for why not a suffix), or, when that is too long
 * for the name rules, `.ferry~h-HASH.part` with HASH the first 128 bits of the name's SHA-256.
 *
 * Injective: two user names never share a part file. Mirrored names differ exactly when user names
 * do; a hashed name has no `/` after the prefix while every mirrored one has, so the two forms never
 * meet; two hashed names meet only on a SHA-256 collision in 128 bits (the xxhash64 used before
 * could be made to collide on purpose).
 */
export function uploadNames(name: string): UploadNames {
  const part = internalName(KINDS.part, name);
  const journal = internalName(KINDS.journal, name);
  const journalTmp = internalName(KINDS.journalTmp, name);
  if (part !== null && journal !== null && journalTmp !== null) return { part, journal, journalTmp };
  const hex = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, HASHED_HEX_CHARS);
  const base = `${HIDDEN_PREFIX}${HASHED_MARK}${hex}`;
  return {
    part: `${base}.${KINDS.part}`,
    journal: `${base}.${KINDS.journal}`,
    journalTmp: `${base}.${KINDS.journalTmp}`,
  };
}

/**
 * The part file of a whole file sent in one message (UPLOAD_FILES): always the flat hashed form
 * (`.ferry~h-HASH.part`, at the top level), so writing it never creates or removes folders under
 * the hidden part folder - a many-file batch would otherwise make and remove a mirror of each
 * folder once per file. The part sweeper knows it as any upload's part file.
 */
export function wholeFilePart(name: string): string {
  const hex = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, HASHED_HEX_CHARS);
  return `${HIDDEN_PREFIX}${HASHED_MARK}${hex}.${KINDS.part}`;
}

/**
 * Which upload a hidden name belongs to and which of its files it is, or null for a name that is
 * not an upload's file. `key` is the same for the part file, journal and journal temp of one upload.
 */
export function uploadFileOf(hidden: string): { key: string; role: keyof UploadNames } | null {
  if (!hidden.startsWith(HIDDEN_PREFIX)) return null;
  const rest = hidden.slice(HIDDEN_PREFIX.length);
  for (const role of Object.keys(KINDS) as Array<keyof UploadNames>) {
    const kind = KINDS[role];
    if (rest.startsWith(`${kind}/`)) return { key: `n:${rest.slice(kind.length + 1)}`, role };
    if (
      rest.startsWith(HASHED_MARK) &&
      rest.length === HASHED_MARK.length + HASHED_HEX_CHARS + 1 + kind.length &&
      rest.endsWith(`.${kind}`)
    ) {
      return { key: `h:${rest.slice(HASHED_MARK.length, HASHED_MARK.length + HASHED_HEX_CHARS)}`, role };
    }
  }
  return null;
}
