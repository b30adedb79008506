import { lstatSync, readdirSync, realpathSync, type Stats } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';

/**
 * A processor folder is tenant input: its environment folder, or a folder inside it, can be a symbolic link into
 * another tenant's environment, and pip or conda would then change that tenant's packages. An environment is used
 * only when it, its top-level folders, its lib/pythonX.Y, site-packages and the entries of site-packages all
 * resolve inside it, and it lies in the processor folder, itself a real directory. `bin/python` is a link to the
 * base interpreter in every venv: links to files are not judged here (running the environment's interpreter is
 * what managing it means).
 */

function kindOf(stat: Stats): string {
  if (stat.isSymbolicLink()) return 'a symbolic link';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  return 'not a directory';
}

/** Whether `path` is `root` or lies under it (any two paths; `relative` does the comparing). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/**
 * Whether `path` is a link resolving outside `root`: to a directory (a manager would write into it), or, with
 * `anyKind`, to anything (in site-packages even a file link would let an install or uninstall reach another
 * tenant's file). Anything that is not a link lies where its parent lies, so only links are resolved.
 */
function linkEscapes(root: string, path: string, anyKind = false): boolean {
  if (lstatOrUndefined(path)?.isSymbolicLink() !== true) return false;
  let real: string;
  try {
    real = realpathSync.native(path);
  } catch {
    return false; // a dangling link leads nowhere
  }
  return !isInside(root, real) && (anyKind || lstatOrUndefined(real)?.isDirectory() === true);
}

/** The names of the links among a folder's entries (the only entries that can lead elsewhere). */
function linksIn(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isSymbolicLink()).map((e) => e.name);
  } catch {
    return [];
  }
}

/** The names in a folder; none when it cannot be read. */
export function childrenOf(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Why the environment `<folder>/<envDir>` must not be used, or undefined when it may be (also when it does not
 * exist yet: it is then created inside the folder). `label` names it in the reason (`pip.venvDir ".venv"`).
 */
export function environmentLocationProblem(folder: string, envDir: string, label: string): string | undefined {
  const folderStat = lstatOrUndefined(folder);
  if (!folderStat) return undefined;
  if (!folderStat.isDirectory()) return `the processor folder is ${kindOf(folderStat)}`;
  const env = join(folder, envDir);
  const envStat = lstatOrUndefined(env);
  if (!envStat) return undefined;
  if (envStat.isSymbolicLink()) return `${label} is a symbolic link`;
  if (!envStat.isDirectory()) return `${label} is ${kindOf(envStat)}`;
  const root = realpathSync.native(folder);
  const envReal = realpathSync.native(env);
  if (!isInside(root, envReal)) return `${label} resolves outside the processor folder`;
  const escapes = (path: string, what: string, anyKind = false) => (linkEscapes(envReal, path, anyKind) ? `${label}: ${what} resolves outside the environment` : undefined);
  for (const name of linksIn(env)) {
    const problem = escapes(join(env, name), name);
    if (problem) return problem;
  }
  // site-packages sits in lib/pythonX.Y/ (venv, conda) and sometimes in lib64/; Windows-style Lib/ is not used here.
  for (const lib of ['lib', 'lib64']) {
    for (const python of childrenOf(join(env, lib))) {
      const pythonDir = join(env, lib, python);
      const problem = escapes(pythonDir, `${lib}/${python}`);
      if (problem) return problem;
      const site = join(pythonDir, 'site-packages');
      const siteProblem = escapes(site, `${lib}/${python}/site-packages`);
      if (siteProblem) return siteProblem;
      for (const entry of linksIn(site)) {
        const entryProblem = escapes(join(site, entry), `${lib}/${python}/site-packages/${entry}`, true);
        if (entryProblem) return entryProblem;
      }
    }
  }
  return undefined;
}
