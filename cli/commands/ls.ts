/**
 * `ferry ls ferry://HOST:PORT[/PREFIX]`: lists one level of a folder on a ferry server (its files,
 * and its folders as `name/`), page by page; `-R` lists every file below it instead. A path that
 * names a file shows that file; one that names neither a file nor a folder is NOT_FOUND.
 *
 * Folders are the prefixes of names (the server keeps no folder objects), so an empty folder never
 * shows. Names are printed whole (`photos/2026/a.jpg`), so a line can be pasted into `cp`.
 */
import type { Argv, CommandModule } from 'yargs';
import { FerryError, isFerryError, type FerryClient, type FileStat } from '../../src/index.js';
import { printJson } from '../util.js';
import { connectTo, remoteArg, remoteOptions, type RemoteArgs } from '../remote.js';

interface LsArgs extends RemoteArgs {
  remote: string;
  json: boolean;
  recursive: boolean;
}

/** One listed item as `--json` prints it: a file (its stat) or a folder. */
type LsItem = ({ type: 'file' } & FileStat) | { type: 'folder'; name: string };

/** One text line per file: size, modification time, name. */
export function formatEntry(e: FileStat): string {
  return `${String(e.sizeBytes).padStart(14)}  ${new Date(e.mtimeMs).toISOString()}  ${e.name}`;
}

/** One text line per folder, in the columns of formatEntry: `folder`, `-`, the name ending in `/`. */
export function formatFolder(name: string): string {
  return `${'folder'.padStart(14)}  ${'-'.padEnd(24)}  ${name}`;
}

/**
 * Streams the items of a listing to `emit`, page by page: the folder `prefix` ('' for the top) one
 * level deep, or every file below it when `recursive`. Resolves to the number of items.
 */
async function listInto(
  client: FerryClient,
  prefix: string,
  recursive: boolean,
  emit: (item: LsItem) => void,
): Promise<number> {
  let count = 0;
  for await (const page of client.pages(recursive ? { prefix } : { prefix, delimiter: '/' })) {
    // files and folders of one page merged back into name order (folders sort as their text)
    const folders = page.prefixes ?? [];
    let f = 0;
    for (const e of page.entries) {
      while (f < folders.length && Buffer.compare(Buffer.from(folders[f]!), Buffer.from(e.name)) < 0) {
        emit({ type: 'folder', name: folders[f++]! });
        count++;
      }
      emit({ type: 'file', ...e });
      count++;
    }
    for (; f < folders.length; f++, count++) emit({ type: 'folder', name: folders[f]! });
  }
  return count;
}

export const lsCommand: CommandModule<object, LsArgs> = {
  command: 'ls <remote>',
  describe: 'list a folder on a ferry server (one level; -R for everything below it)',
  builder: (y: Argv<object>) =>
    remoteOptions(
      y
        .positional('remote', {
          type: 'string',
          demandOption: true,
          describe: 'ferry://HOST:PORT[/PREFIX] or HOST:PORT[:PREFIX] (a folder, or one file)',
        })
        .option('recursive', {
          alias: 'R',
          type: 'boolean',
          default: false,
          describe: 'every file below the folder, at any depth, instead of one level',
        })
        .option('json', {
          type: 'boolean',
          default: false,
          describe: 'print JSON: an array of {type: "file", ...stat} and {type: "folder", name}',
        }),
    )
      .example('$0 ls ferry://127.0.0.1:7733', 'the top level: files and folders')
      .example('$0 ls -R ferry://127.0.0.1:7733/photos/', 'every file below photos/'),
  handler: async (args) => {
    const ref = remoteArg(args.remote);
    const client = await connectTo(ref, args);
    try {
      const items: LsItem[] = [];
      const emit = (item: LsItem): void => {
        if (args.json) items.push(item);
        else
          process.stdout.write((item.type === 'file' ? formatEntry(item) : formatFolder(item.name)) + '\n');
      };
      const path = ref.name ?? '';
      if (path === '' || path.endsWith('/')) {
        const n = await listInto(client, path, args.recursive, emit);
        if (n === 0 && path !== '') throw notFound(path);
      } else {
        const file = await client.stat(path).catch((err: unknown) => {
          if (isFerryError(err, 'NOT_FOUND') || isFerryError(err, 'IS_A_FOLDER')) return null;
          throw err;
        });
        if (file !== null) emit({ type: 'file', ...file });
        else if ((await listInto(client, `${path}/`, args.recursive, emit)) === 0) throw notFound(path);
      }
      if (args.json) printJson(items);
    } finally {
      await client.close();
    }
  },
};

function notFound(path: string): FerryError {
  return new FerryError(
    'NOT_FOUND',
    `no file or folder '${path}' on the server: check the name with ferry ls on the folder above it`,
  );
}
