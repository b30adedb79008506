import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, fsyncSync, lstatSync, openSync, readSync, renameSync, rmSync, writeSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { UnreadableFileError } from '../domain/errors.ts';

/**
 * A processor folder is built from an archive a tenant uploaded, so every file in it is written by an attacker.
 * Reads and writes here never follow a symbolic link, never block on a FIFO or a device, and never take more
 * than a size limit into memory: the file is opened with O_NOFOLLOW|O_NONBLOCK and judged by fstat on the open
 * descriptor (so a swap after the check changes nothing), never with readFileSync(path).
 */

export type TenantRead =
  | { state: 'missing' }
  | { state: 'ok'; text: string; stat: Stats }
  | { state: 'refused'; reason: string };

/** What a non-regular file is, in words an operator reads in a log or an error answer. */
export function kindOf(stat: Stats): string {
  if (stat.isSymbolicLink()) return 'a symbolic link';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isDirectory()) return 'a directory';
  return 'not a regular file';
}

/**
 * Why `folder` cannot be used as a processor folder (a symbolic link, not a directory), or undefined when it is a
 * real directory; `absent` when there is nothing there.
 */
export function folderProblem(folder: string): string | undefined | 'absent' {
  let stat: Stats | undefined;
  try {
    stat = lstatSync(folder, { throwIfNoEntry: false });
    if (!stat) return 'absent';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'absent';
    return `the processor folder cannot be examined (${code})`;
  }
  if (!stat.isDirectory()) return `the processor folder is ${kindOf(stat)}`;
  return undefined;
}

/**
 * Reads `<folder>/<file>` when it is a regular file of at most `maxBytes`, in the folder itself (a real
 * directory). Never blocks: a FIFO, a device or a socket is refused before any byte is read.
 */
export function readTenantFile(folder: string, file: string, maxBytes: number, limitName: string): TenantRead {
  const problem = folderProblem(folder);
  if (problem === 'absent') return { state: 'missing' };
  if (problem) return { state: 'refused', reason: problem };
  let fd: number;
  try {
    fd = openSync(join(folder, file), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { state: 'missing' };
    // O_NOFOLLOW on a symbolic link: ELOOP on Linux (EMLINK/EFTYPE elsewhere).
    if (code === 'ELOOP' || code === 'EMLINK' || code === 'EFTYPE') return { state: 'refused', reason: `${file} is a symbolic link` };
    // A socket cannot be opened at all.
    if (code === 'ENXIO') return { state: 'refused', reason: `${file} is not a regular file` };
    return { state: 'refused', reason: `${file} cannot be opened (${code})` };
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { state: 'refused', reason: `${file} is ${kindOf(stat)}` };
    // A hard link may name a file anywhere on the same file system (an archive can carry one); procenv's own files
    // are written by rename and always have one name.
    if (stat.nlink > 1) return { state: 'refused', reason: `${file} is a hard link (${stat.nlink} names)` };
    if (stat.size > maxBytes) return { state: 'refused', reason: `${file} is ${stat.size} bytes, over the limit of ${maxBytes} (${limitName})` };
    // Read at most one byte past the limit: a file still growing after fstat is refused, not taken whole.
    const buffer = Buffer.allocUnsafe(Math.min(maxBytes + 1, stat.size + 1));
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length === buffer.length) {
        if (length > maxBytes) return { state: 'refused', reason: `${file} is over the limit of ${maxBytes} bytes (${limitName})` };
        break;
      }
    }
    return { state: 'ok', text: buffer.toString('utf8', 0, length), stat };
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `<folder>/<file>` so that readers see the old content or the new one, never a part: a temporary file with
 * an unpredictable name, created exclusively (O_EXCL|O_NOFOLLOW: a link planted under that name is never
 * followed), fsync, then a rename over the target (rename replaces a planted link itself, never its target).
 * The folder must be a real directory.
 */
export function writeTenantFileAtomic(folder: string, file: string, content: string): void {
  const problem = folderProblem(folder);
  if (problem === 'absent') throw new UnreadableFileError('FOLDER_REFUSED', `${file} cannot be written: the processor folder is gone`);
  if (problem) throw new UnreadableFileError('FOLDER_REFUSED', `${file} is not written: ${problem}`);
  const tmp = join(folder, `.${file}.${randomBytes(16).toString('hex')}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(folder, file));
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
