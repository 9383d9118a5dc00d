/**
 * The errors of the file/folder collision rule, shared by every backend so that the codes and the
 * advice are the same whichever backend refuses.
 *
 * Why a rule at all: names are keys, and a folder is a prefix of names, so `a` (a file) and `a/b`
 * could both be keys of an object store. They cannot both be host paths, nor both be shown by a
 * mount (a name is either a file or a folder there), so every backend refuses the second one.
 */
import { FerryError } from '../core/errors.js';

/** `name` needs `folder` to be a folder, and a file holds it. */
export function notAFolder(name: string, folder: string): FerryError {
  return new FerryError(
    'NOT_A_FOLDER',
    `'${name}' needs the folder '${folder}/', but a file is named '${folder}': rename or remove that file, or pick another name`,
    { name, folder },
  );
}

/** `name` is a folder (files named `name/...` exist), so no file can take it. */
export function isAFolder(name: string): FerryError {
  return new FerryError(
    'IS_A_FOLDER',
    `'${name}' is a folder (files named '${name}/...' exist): pick another name, or move those files first`,
    { name },
  );
}
