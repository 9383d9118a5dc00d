/**
 * Mount paths <-> flat filesystem keys, in one place: `/` is the root (key ``), `/a/b/c` is the key
 * `a/b/c`. A folder of the mount is a key prefix (`a/b/`), never an object of its own.
 *
 * Why here and checked up front: the kernel hands over any path a program asks for, and a name the
 * backend would refuse must fail the same way whatever operation it reaches (ENAMETOOLONG for a
 * segment past 255 bytes, EINVAL for what no key can be), before a list or stat is wasted on it.
 */
import { validateName, SEPARATOR } from '../flatfs/names.js';
import { errnoOf } from './errno.js';
import { ERRNO } from './native.js';

/** The key of a mount path (`` for the root), or a negative errno when no key can have that name. */
export function keyOfPath(path: string): string | number {
  if (path.charCodeAt(0) !== 0x2f) return -ERRNO.EINVAL;
  if (path === '/') return '';
  const key = path.slice(1);
  try {
    validateName(key);
  } catch (err) {
    return errnoOf(err);
  }
  return key;
}

/** The prefix that lists the inside of folder `key`: `` for the root, `a/b/` for `a/b`. */
export function folderPrefix(key: string): string {
  return key === '' ? '' : key + SEPARATOR;
}

/** The folder holding `key` (`` for a name at the top). */
export function parentKey(key: string): string {
  const i = key.lastIndexOf(SEPARATOR);
  return i < 0 ? '' : key.slice(0, i);
}

/** The last segment of `key`: the name a listing of its folder shows. */
export function baseName(key: string): string {
  return key.slice(key.lastIndexOf(SEPARATOR) + 1);
}
