/**
 * Names as the server sees them: user names are checked (valid flat-fs names, never HIDDEN_PREFIX),
 * and each in-progress upload gets a hidden part file and journal derived from its final name.
 *
 * Why: a user must not be able to read, overwrite or publish another transfer's temporary file, and
 * a partial upload must never be visible under its final name.
 */
import { xxh64 } from '../core/checksum.js';
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

/**
 * The hidden names of an upload's data and journal: the name under one hidden folder per kind
 * (`.ferry~part/photos/a.jpg`; see internalName for why not a suffix), or hashed when that is too
 * long for the name rules.
 */
export function uploadNames(name: string): { part: string; journal: string; journalTmp: string } {
  const part = internalName('part', name);
  const journal = internalName('journal', name);
  const journalTmp = internalName('jtmp', name);
  if (part !== null && journal !== null && journalTmp !== null) return { part, journal, journalTmp };
  const base = `${HIDDEN_PREFIX}${xxh64(Buffer.from(name, 'utf8')).toString(16).padStart(16, '0')}`;
  return { part: `${base}.part`, journal: `${base}.journal`, journalTmp: `${base}.jtmp` };
}
