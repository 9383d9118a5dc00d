/**
 * One list page of the directory backend, read from the host folders it needs and no others.
 *
 * Why: a folder of a million files must list in pages without loading the tree, or even the
 * folder. A host folder is unsorted, so each folder on the way is streamed once per page and only
 * the smallest `limit + 1` entries after the cursor are kept (a bounded max-heap): memory is the
 * page, time one pass over the folder. With a delimiter the page is one level of one folder: only
 * that folder is read (plus, for each subfolder on the page, a walk that stops at its first file,
 * since a folder exists only while it holds one). Without a delimiter the walk goes in name order
 * from the prefix's folder, into subfolders as it meets them, and stops when the page is full.
 */
import { hostPath, holdsFiles, lstatOrNull, scanFolder } from './host-dir.js';
import { compareNames, folderOf, isHiddenName, isValidName, parentsOf } from './names.js';
import { PageBuilder, afterCursor, isFolderEntry, type NamePage, type PageRequest } from './paginate.js';

/** The names and folders of one page, from the host tree under `root`. */
export async function listHostPage(root: string, req: PageRequest): Promise<NamePage> {
  const page = new PageBuilder(req);
  const folder = folderOf(req.prefix);
  if (!(await isRealFolder(root, folder))) return page.page();
  const wanted = (key: string): boolean =>
    key.startsWith(req.prefix) && (req.includeHidden || !isHiddenName(key));
  const batch = req.limit + 1;
  if (req.delimited) {
    const accept = (key: string): boolean => wanted(key) && afterCursor(key, req);
    for await (const key of inOrder(root, folder, accept, batch)) {
      if (isFolderEntry(key) && !(await holdsFiles(root, key))) continue;
      if (!page.offer(key)) break;
    }
    return page.page();
  }
  const cursor = req.cursor;
  // A folder before the cursor holds only names before it, unless the cursor is inside it.
  const accept = (key: string): boolean =>
    wanted(key) &&
    (afterCursor(key, req) || (isFolderEntry(key) && cursor !== null && cursor.startsWith(key)));
  const walk = async (at: string): Promise<boolean> => {
    for await (const key of inOrder(root, at, accept, batch)) {
      if (!(isFolderEntry(key) ? await walk(key) : page.offer(key))) return false;
    }
    return true;
  };
  await walk(folder);
  return page.page();
}

/**
 * The accepted entries of `folder` in name order, read `batch` at a time: each batch is one pass
 * over the folder keeping the smallest entries after the previous batch.
 */
async function* inOrder(
  root: string,
  folder: string,
  accept: (key: string) => boolean,
  batch: number,
): AsyncGenerator<string> {
  let after: string | null = null;
  for (;;) {
    const from = after;
    const heap = new MaxHeap(batch);
    await scanFolder(root, folder, (key) => {
      if ((from === null || compareNames(key, from) > 0) && accept(key)) heap.offer(key);
      return true;
    });
    const keys = heap.sorted();
    yield* keys;
    if (keys.length < batch) return;
    after = keys[keys.length - 1] ?? null;
  }
}

/** The `capacity` smallest names offered (by compareNames), in a binary max-heap. */
class MaxHeap {
  private readonly items: string[] = [];

  constructor(private readonly capacity: number) {}

  offer(key: string): void {
    const items = this.items;
    if (items.length < this.capacity) {
      items.push(key);
      this.up(items.length - 1);
    } else if (compareNames(key, items[0] as string) < 0) {
      items[0] = key;
      this.down(0);
    }
  }

  sorted(): string[] {
    return [...this.items].sort(compareNames);
  }

  private up(i: number): void {
    const items = this.items;
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      if (compareNames(items[i] as string, items[parent] as string) <= 0) return;
      [items[i], items[parent]] = [items[parent] as string, items[i] as string];
      i = parent;
    }
  }

  private down(i: number): void {
    const items = this.items;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let largest = i;
      if (left < items.length && compareNames(items[left] as string, items[largest] as string) > 0)
        largest = left;
      if (right < items.length && compareNames(items[right] as string, items[largest] as string) > 0)
        largest = right;
      if (largest === i) return;
      [items[i], items[largest]] = [items[largest] as string, items[i] as string];
      i = largest;
    }
  }
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
