import { constants } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { strFromU8, unzipSync } from 'fflate';
import { AdvisoryDatabase, parseOsvAdvisory, type SkippedFile } from '../domain/advisories.ts';

/**
 * Reads an offline OSV advisory database: a folder of OSV JSON files (searched a few levels down), or a .zip of them
 * (PyPI's OSV export, `all.zip`). The files are untrusted input: each is read with a size limit, a file that cannot
 * be taken (not JSON, the wrong shape, too large) is skipped and named with the reason, entry names of a zip are only
 * ever labels (nothing is written to disk), and symbolic links are not followed.
 */

export interface AdvisoryLimits {
  /** One advisory file, at most. */
  fileBytes: number;
  /** The .zip itself, and the sum of its entries once inflated, at most. */
  zipBytes: number;
  inflatedBytes: number;
  /** Files (or zip entries) looked at, at most. */
  files: number;
}

export const DEFAULT_ADVISORY_LIMITS: AdvisoryLimits = {
  fileBytes: 4 * 1024 * 1024,
  zipBytes: 512 * 1024 * 1024,
  inflatedBytes: 2 * 1024 * 1024 * 1024,
  files: 500_000,
};

/** Folders deeper than this under the database folder are not searched. */
const MAX_DEPTH = 6;
/** Zip entries are inflated this many declared bytes at a time, so a whole export is never in memory at once. */
const INFLATE_BATCH_BYTES = 64 * 1024 * 1024;
/** The event loop gets a turn this often while files are parsed (a whole export is tens of thousands). */
const YIELD_EVERY = 200;

export interface LoadedAdvisories {
  database: AdvisoryDatabase;
  source: 'folder' | 'zip';
  /** Advisory files read (those skipped included). */
  files: number;
  skipped: SkippedFile[];
}

/** The whole database could not be read (missing, not a zip, over the limits): the caller keeps what it had. */
export class AdvisoryLoadError extends Error {}

export function isZipPath(path: string): boolean {
  return path.toLowerCase().endsWith('.zip');
}

export async function loadAdvisories(path: string, limits: AdvisoryLimits = DEFAULT_ADVISORY_LIMITS): Promise<LoadedAdvisories> {
  const stat = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    throw new AdvisoryLoadError(err.code === 'ENOENT' ? 'the advisory database does not exist' : `the advisory database cannot be read (${err.code ?? 'error'})`);
  });
  if (stat.isSymbolicLink()) throw new AdvisoryLoadError('the advisory database is a symbolic link; name the file or folder itself');
  if (stat.isDirectory()) return loadFolder(path, limits);
  if (stat.isFile() && isZipPath(path)) return loadZip(path, stat.size, limits);
  throw new AdvisoryLoadError('the advisory database must be a folder of OSV JSON files or a .zip of them');
}

class Collector {
  readonly database = new AdvisoryDatabase();
  readonly skipped: SkippedFile[] = [];
  files = 0;

  take(file: string, text: string): void {
    this.files++;
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      this.skip(file, 'not valid JSON');
      return;
    }
    const parsed = parseOsvAdvisory(doc);
    if (!parsed.ok) this.skip(file, parsed.reason);
    else if (!this.database.add(parsed)) this.skip(file, `advisory ${parsed.advisory.id} is already in another file`);
  }

  skip(file: string, reason: string): void {
    this.skipped.push({ file: label(file), reason });
  }

  async breathe(): Promise<void> {
    if (this.files % YIELD_EVERY === 0) await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A name from the database as it may be shown: no control characters, not too long. */
function label(name: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 200 ? `…${clean.slice(-199)}` : clean;
}

async function loadFolder(root: string, limits: AdvisoryLimits): Promise<LoadedAdvisories> {
  const into = new Collector();
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (dir === root) throw new AdvisoryLoadError(`the advisory folder cannot be listed (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      into.skip(relative(root, dir), 'folder cannot be listed');
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && !entry.name.startsWith('.')) {
        if (depth < MAX_DEPTH) await walk(path, depth + 1);
        continue;
      }
      if (!entry.name.toLowerCase().endsWith('.json')) continue;
      const name = relative(root, path).split(sep).join('/');
      if (!entry.isFile()) {
        into.skip(name, 'not a regular file (links are not followed)');
        continue;
      }
      if (into.files >= limits.files) throw new AdvisoryLoadError(`more than ${limits.files} advisory files`);
      const text = await readBounded(path, limits.fileBytes);
      if (typeof text === 'string') into.take(name, text);
      else {
        into.files++;
        into.skip(name, text.reason);
      }
      await into.breathe();
    }
  };
  await walk(root, 0);
  return { database: into.database, source: 'folder', files: into.files, skipped: into.skipped };
}

/** A regular file's text, read without following a link and never past `max` bytes. */
async function readBounded(path: string, max: number): Promise<string | { reason: string }> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    return { reason: `cannot be opened (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return { reason: 'not a regular file' };
    if (stat.size > max) return { reason: `larger than ${max} bytes` };
    const buffer = Buffer.alloc(Math.min(stat.size, max) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > max) return { reason: `larger than ${max} bytes` };
      if (length === buffer.length) break;
    }
    return buffer.subarray(0, length).toString('utf8');
  } catch (err) {
    return { reason: `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  } finally {
    await handle.close();
  }
}

interface ZipEntry { index: number; name: string; declared: number }

async function loadZip(path: string, size: number, limits: AdvisoryLimits): Promise<LoadedAdvisories> {
  if (size > limits.zipBytes) throw new AdvisoryLoadError(`the advisory zip is larger than ${limits.zipBytes} bytes`);
  const bytes = await readZipBytes(path, limits.zipBytes);
  const into = new Collector();
  // First pass: the central directory only (the filter inflates nothing), to choose the entries and plan batches.
  const chosen: ZipEntry[] = [];
  let index = 0;
  let declaredTotal = 0;
  try {
    unzipSync(bytes, {
      filter: (file) => {
        const i = index++;
        if (i >= limits.files) throw new AdvisoryLoadError(`more than ${limits.files} entries in the advisory zip`);
        if (file.name.endsWith('/') || !file.name.toLowerCase().endsWith('.json')) return false;
        if (file.originalSize > limits.fileBytes) {
          into.files++;
          into.skip(file.name, `larger than ${limits.fileBytes} bytes`);
          return false;
        }
        if (file.compression !== 0 && file.compression !== 8) {
          into.files++;
          into.skip(file.name, `compression method ${file.compression} is not supported`);
          return false;
        }
        declaredTotal += file.originalSize;
        if (declaredTotal > limits.inflatedBytes) throw new AdvisoryLoadError(`the advisory zip inflates to more than ${limits.inflatedBytes} bytes`);
        chosen.push({ index: i, name: file.name, declared: file.originalSize });
        return false;
      },
    });
  } catch (err) {
    if (err instanceof AdvisoryLoadError) throw err;
    throw new AdvisoryLoadError(`the advisory zip cannot be read: ${(err as Error).message}`);
  }
  // Then batch by batch: fflate inflates each entry into a buffer of its declared size, never more.
  for (let start = 0; start < chosen.length;) {
    let end = start;
    let bytesInBatch = 0;
    while (end < chosen.length && (end === start || bytesInBatch + chosen[end]!.declared <= INFLATE_BATCH_BYTES)) bytesInBatch += chosen[end++]!.declared;
    const wanted = new Set(chosen.slice(start, end).map((e) => e.index));
    const names = new Map<number, string>();
    let i = 0;
    let files: Record<string, Uint8Array>;
    try {
      files = unzipSync(bytes, {
        filter: (file) => {
          const at = i++;
          if (!wanted.has(at)) return false;
          names.set(at, file.name);
          return true;
        },
      });
    } catch (err) {
      throw new AdvisoryLoadError(`the advisory zip cannot be inflated: ${(err as Error).message}`);
    }
    for (const entry of chosen.slice(start, end)) {
      const content = files[entry.name];
      if (!content) continue;
      delete files[entry.name];
      let text: string;
      try {
        text = strFromU8(content);
      } catch {
        into.files++;
        into.skip(entry.name, 'not UTF-8 text');
        continue;
      }
      into.take(entry.name, text);
      await into.breathe();
    }
    start = end;
  }
  return { database: into.database, source: 'zip', files: into.files, skipped: into.skipped };
}

async function readZipBytes(path: string, max: number): Promise<Uint8Array> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((err: NodeJS.ErrnoException) => {
    throw new AdvisoryLoadError(`the advisory zip cannot be opened (${err.code ?? 'error'})`);
  });
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new AdvisoryLoadError('the advisory zip is not a regular file');
    if (stat.size > max) throw new AdvisoryLoadError(`the advisory zip is larger than ${max} bytes`);
    const buffer = Buffer.alloc(stat.size);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return new Uint8Array(buffer.buffer, buffer.byteOffset, length);
  } finally {
    await handle.close();
  }
}
