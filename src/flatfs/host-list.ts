/**
 * One list page of the directory backend, read from the host folders it needs and no others.
 *
 * Why: a folder of a million files must list in pages without loading the tree. With a delimiter
 * the page is one level of one folder: only that folder is read (plus, for each subfolder on the
 * page, a walk that stops at its first file, since a folder exists only while it holds one). Without
 * a delimiter the walk goes in name order from the prefix's folder and stops when the page is full,
 * leaving folders before the cursor unread.
 */
import { compareNames, folderOf, isHiddenName, isValidName, parentsOf, SEPARATOR } from './names.js';
import { PageBuilder, afterCursor, type NamePage, type PageRequest } from './paginate.js';
import { holdsFiles, hostPath, lstatOrNull, readFolder, walkFiles } from './host-dir.js';

/** The names and folders of one page, from the host tree under `root`. */
export async function listHostPage(root: string, req: PageRequest): Promise<NamePage> {
  const page = new PageBuilder(req);
  const folder = folderOf(req.prefix);
  if (!(await isRealFolder(root, folder))) return page.page();
  const wanted = (entry: string): boolean =>
    entry.startsWith(req.prefix) && (req.includeHidden || !isHiddenName(entry));
  if (req.delimited) {
    const { files, folders } = await readFolder(root, folder);
    const entries = [...files, ...folders].filter((e) => wanted(e) && afterCursor(e, req));
    for (const entry of entries.sort(compareNames)) {
      if (entry.endsWith(SEPARATOR) && !(await holdsFiles(root, entry))) continue;
      if (!page.offer(entry)) break;
    }
    return page.page();
  }
  const cursor = req.cursor;
  const beforeCursor = (sub: string): boolean =>
    cursor !== null && compareNames(sub, cursor) <= 0 && !cursor.startsWith(sub);
  await walkFiles(
    root,
    folder,
    (name) => !wanted(name) || !afterCursor(name, req) || page.offer(name),
    (sub) => !wanted(sub) || beforeCursor(sub),
  );
  return page.page();
}

/**
 * True when `folder` (`''` or `a/b/`) is the root or a chain of real host directories: a symlink
 * anywhere on the way is not a folder, so a listing never reads through one.
 */
async function isRealFolder(root: string, folder: string): Promise<boolean> {
  if (folder === '') return true;
  const name = folder.slice(0, -1);
  if (!isValidName(name)) return false;
  for (const key of [...parentsOf(name), name]) {
    if (!(await lstatOrNull(hostPath(root, key)))?.isDirectory()) return false;
  }
  return true;
}
