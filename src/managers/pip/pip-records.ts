import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { childrenOf } from '../environment-location.ts';
import { sitePackagesOf } from './site-packages.ts';

/**
 * What pip uninstall would delete, judged before pip runs. A venv in a processor folder is tenant input, and so is
 * every uninstall record in it: pip removes each path a distribution's record lists, relative to site-packages, and
 * `pip install` can uninstall an old version (of the package or of any dependency) first. A record naming
 * `../../../../other/.venv/…` or an absolute path must never reach pip. pip's own guard (`is_local`: paths under
 * sys.prefix) runs inside interpreter code the tenant controls, so procenv does not rely on it.
 *
 * What pip 23/24 (`req_uninstall.py`, `UninstallPathSet.from_dist`, `BaseDistribution.iter_declared_entries`)
 * reads, and so what is checked here, in `*.dist-info` and `*.egg-info` folders alike:
 * - `RECORD`: the first CSV column, relative to site-packages (absolute paths and `..` allowed);
 * - `installed-files.txt` (read when there is no RECORD): lines relative to the info folder; for an egg-info with
 *   neither, the `top_level.txt` names (relative to site-packages);
 * - `entry_points.txt` (both kinds): `console_scripts`/`gui_scripts` names become `<venv>/bin/<name>`.
 * An `x.egg` folder is removed whole (an entry of site-packages: environment-location.ts refuses it as a link out).
 * A develop install's `*.egg-link` makes pip delete only the egg-link and a line of site-packages'
 * `easy-install.pth` (it refuses when the link points elsewhere than the dist's location), both inside the venv.
 */

/** A real RECORD of a big distribution is well under 1 MiB; one larger than this is not read but refused. */
const MAX_RECORD_BYTES = 8 * 1024 * 1024;

/** site-packages entries judged between two turns of the event loop. */
const YIELD_EVERY = 32;

/** For absolute, normalised paths (resolve's and realpath's): a string test, tens of thousands of times a check. */
function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
}

/**
 * A record file's text, `undefined` when there is none, or `null` when it must not be read: not a regular file (a
 * FIFO would block, a device never ends) or too big. Opened with O_NONBLOCK and judged by fstat, as pip opens it
 * (following a link: a link to a file outside still only names paths, which are judged like any others).
 */
function readRecord(path: string): string | undefined | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? undefined : null; // ENOTDIR: an `x.egg-info` file, no folder
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size > MAX_RECORD_BYTES) return null;
    const buffer = Buffer.alloc(stat.size);
    let read = 0;
    while (read < buffer.length) {
      const n = readSync(fd, buffer, read, buffer.length - read, read);
      if (n === 0) break;
      read += n;
    }
    return buffer.subarray(0, read).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** The path column of each RECORD row (CSV: a quoted field may hold commas and doubled quotes). */
export function recordPaths(text: string): string[] {
  const paths: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === '') continue;
    if (line.startsWith('"')) {
      let field = '';
      let i = 1;
      for (; i < line.length; i++) {
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i++;
          } else break;
        } else field += line[i];
      }
      paths.push(field);
    } else {
      const comma = line.indexOf(',');
      paths.push(comma === -1 ? line : line.slice(0, comma));
    }
  }
  return paths;
}

/** The names of `console_scripts` and `gui_scripts` entries in an entry_points.txt (an INI file). */
export function scriptNames(text: string): string[] {
  const names: string[] = [];
  let inScripts = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.*)\]$/.exec(line);
    if (section) {
      inScripts = ['console_scripts', 'gui_scripts'].includes(section[1]!.trim());
      continue;
    }
    const eq = line.search(/[=:]/);
    if (inScripts && eq > 0) names.push(line.slice(0, eq).trim());
  }
  return names;
}

/** `text` cut to about `max` characters, keeping both ends (where a path's escape and its target show). */
function shorten(text: string, max = 120): string {
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length <= max ? clean : `${clean.slice(0, max / 2)}…${clean.slice(-max / 2)}`;
}

class Judge {
  private readonly realDirs = new Map<string, string | undefined>();

  constructor(readonly root: string) {}

  /**
   * Whether deleting `path` could touch something outside the root: its normalised form lies outside, or its
   * folder exists and resolves (links followed) outside. pip resolves the folder, not the last name: a link there
   * is itself removed, its target kept. Folders are resolved once each (a venv's records share few folders).
   */
  escapes(base: string, entry: string): boolean {
    // Most entries are plain relative paths (`pkg/mod.py`): they cannot leave `base` by name, so only their folder
    // is resolved, and that once. resolve() on every one of tens of thousands of entries was half of the cost.
    let dir: string;
    if (!entry.startsWith('/') && !entry.includes('..')) {
      const slash = entry.lastIndexOf('/');
      dir = slash === -1 ? base : `${base}/${entry.slice(0, slash)}`;
    } else {
      const path = resolve(base, entry);
      if (!isInside(this.root, path)) return true;
      dir = dirname(path);
    }
    let real = this.realDirs.get(dir);
    if (!this.realDirs.has(dir)) {
      try {
        real = realpathSync.native(dir);
      } catch {
        real = undefined; // nothing there: pip skips a path that does not exist
      }
      this.realDirs.set(dir, real);
    }
    return real !== undefined && !isInside(this.root, real);
  }
}

/**
 * Why pip must not run uninstalls in the venv `venv` of the processor folder `folder`: the first record entry (of
 * any installed distribution) whose path resolves outside the folder, or a record that cannot be read safely.
 * Undefined when every entry stays inside. Checks all distributions, not just the one named: `pip install`
 * uninstalls whichever old versions the resolver replaces, dependencies included.
 */
export async function uninstallRecordProblem(folder: string, venv: string): Promise<string | undefined> {
  let root: string;
  try {
    root = realpathSync.native(folder);
  } catch {
    return undefined; // no folder, no venv: nothing to uninstall
  }
  const judge = new Judge(root);
  const bin = join(venv, 'bin');
  for (const site of sitePackagesOf(venv)) {
    for (const [index, entry] of childrenOf(site.path).entries()) {
      // Synchronous reads are a third of the CPU of promise-based ones here; yielding between batches keeps
      // the event loop (HTTP answers) from waiting for a whole venv.
      if (index % YIELD_EVERY === YIELD_EVERY - 1) await nextTurn();
      const problem = distributionProblem(judge, site.path, entry, bin);
      if (problem) return `${site.label}/${shorten(entry, 80)}: ${problem}`;
    }
  }
  return undefined;
}

function distributionProblem(judge: Judge, site: string, entry: string, bin: string): string | undefined {
  const isDistInfo = entry.endsWith('.dist-info');
  if (!isDistInfo && !entry.endsWith('.egg-info')) return undefined;
  const info = join(site, entry);
  const listed = (file: string, base: string, paths: string[]): string | undefined => {
    for (const p of paths) {
      if (p.trim() === '') continue;
      if (judge.escapes(base, p)) return `${file} lists "${shorten(p)}", which resolves outside the processor folder`;
    }
    return undefined;
  };
  const unreadable = (file: string) => `${file} is not a regular file of at most ${MAX_RECORD_BYTES / 1024 / 1024} MiB`;

  // pip reads RECORD, and installed-files.txt only when there is no RECORD, for both kinds; checking both is simpler
  // and stricter. top_level.txt counts only for an egg-info without either.
  const record = readRecord(join(info, 'RECORD'));
  if (record === null) return unreadable('RECORD');
  const recordProblem = record === undefined ? undefined : listed('RECORD', site, recordPaths(record));
  if (recordProblem) return recordProblem;
  const files = readRecord(join(info, 'installed-files.txt'));
  if (files === null) return unreadable('installed-files.txt');
  const filesProblem = files === undefined ? undefined : listed('installed-files.txt', info, files.split(/\r?\n/));
  if (filesProblem) return filesProblem;
  if (!isDistInfo && record === undefined && files === undefined) {
    const top = readRecord(join(info, 'top_level.txt'));
    if (top === null) return unreadable('top_level.txt');
    const topProblem = top === undefined ? undefined : listed('top_level.txt', site, top.split(/\r?\n/).map((l) => l.trim()));
    if (topProblem) return topProblem;
  }
  const entryPoints = readRecord(join(info, 'entry_points.txt'));
  if (entryPoints === null) return unreadable('entry_points.txt');
  return entryPoints === undefined ? undefined : listed('entry_points.txt', bin, scriptNames(entryPoints));
}
