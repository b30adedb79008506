import { readdir, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** PEP 503 normalisation: lowercase, every run of `-`, `_`, `.` becomes one `-`. */
export function normaliseProjectName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** `pkg[extra1,extra2]` → `pkg`. */
export function stripExtras(name: string): string {
  const bracket = name.indexOf('[');
  return bracket === -1 ? name : name.slice(0, bracket);
}

const ARCHIVE_SUFFIXES = ['.whl', '.tar.gz', '.tgz', '.tar.bz2', '.tbz', '.tar.xz', '.txz', '.tar', '.zip'];

/**
 * The normalised project name of a distribution file name, or undefined when it is not one.
 * A wheel (PEP 427) escapes `-` in its name, so the name is everything before the first `-`. An sdist is
 * `<name>-<version>.<ext>` where old ones may keep `-` in the name: the name ends at the last `-` that is
 * followed by a digit (versions start with one, or with `v`).
 */
export function projectOfFile(file: string): string | undefined {
  const suffix = ARCHIVE_SUFFIXES.find((s) => file.toLowerCase().endsWith(s));
  if (!suffix) return undefined;
  const stem = file.slice(0, -suffix.length);
  if (suffix === '.whl') {
    const dash = stem.indexOf('-');
    return dash > 0 ? normaliseProjectName(stem.slice(0, dash)) : undefined;
  }
  const match = /^(.+?)-v?\d[^-]*$/.exec(stem);
  return match ? normaliseProjectName(match[1]!) : undefined;
}

/** Where a package may be found: pip's `--find-links` locations and its index URLs (PEP 503 simple API). */
export interface IndexSources {
  findLinks: readonly string[];
  /** `--index-url` then each `--extra-index-url`; empty when `--no-index`. */
  indexUrls: readonly string[];
}

export interface LookupOptions {
  signal?: AbortSignal;
  /** Per request; the caller waits for a lookup before it accepts a request, so this stays short. */
  timeoutMs?: number;
}

const DEFAULT_LOOKUP_TIMEOUT_MS = 5000;

function isHttpUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

/** One GET, no retry (an unreachable source answers "unknown", not a wait), redirects followed (PEP 503 allows them). */
async function fetchPage(url: string, options: LookupOptions): Promise<{ status: number; body: string } | undefined> {
  try {
    // Loaded at the first lookup, not at start-up: got and its dependencies are about sixty modules.
    const { default: got } = await import('got');
    const res = await got(url, {
      throwHttpErrors: false,
      retry: { limit: 0 },
      timeout: { request: Math.min(options.timeoutMs ?? DEFAULT_LOOKUP_TIMEOUT_MS, DEFAULT_LOOKUP_TIMEOUT_MS) },
      signal: options.signal,
      headers: { accept: 'text/html' },
      followRedirect: true,
    });
    return { status: res.statusCode, body: res.body };
  } catch {
    return undefined;
  }
}

/** The file names an HTML page links to (`href="…/name.whl#sha256=…"` → `name.whl`). */
function linkedFiles(html: string): string[] {
  const out: string[] = [];
  for (const match of html.matchAll(/href\s*=\s*["']([^"']+)["']/gi)) {
    const path = match[1]!.split('#')[0]!.split('?')[0]!;
    const last = path.slice(path.lastIndexOf('/') + 1);
    try {
      out.push(decodeURIComponent(last));
    } catch {
      out.push(last);
    }
  }
  return out;
}

/** A find-links location: a folder (path or file: URL) or an HTML page of links. Undefined when unreadable. */
async function findLinksHas(location: string, project: string, options: LookupOptions): Promise<boolean | undefined> {
  if (isHttpUrl(location)) {
    const page = await fetchPage(location, options);
    if (!page || page.status !== 200) return undefined;
    return linkedFiles(page.body).some((f) => projectOfFile(f) === project);
  }
  let folder = location;
  if (/^file:/i.test(location)) {
    try {
      folder = fileURLToPath(location);
    } catch {
      return undefined;
    }
  }
  try {
    const files = await readdir(folder);
    return files.some((f) => projectOfFile(f) === project);
  } catch {
    return undefined;
  }
}

/** Whether a folder exists: true, false, or undefined when it cannot be told (permissions, a bad path). */
async function isFolder(path: string): Promise<boolean | undefined> {
  try {
    return (await stat(path)).isDirectory();
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? false : undefined;
  }
}

/**
 * PEP 503: `GET <index>/<normalised>/`; 200 → there, 404 (or 410) → not there, anything else → unknown.
 * A `file:` index (a simple index laid out on disk, as pip accepts) has one folder per project.
 */
async function indexHas(indexUrl: string, project: string, options: LookupOptions): Promise<boolean | undefined> {
  if (/^file:/i.test(indexUrl)) {
    let root: string;
    try {
      root = fileURLToPath(indexUrl);
    } catch {
      return undefined;
    }
    if ((await isFolder(root)) !== true) return undefined;
    return isFolder(`${root.replace(/\/+$/, '')}/${project}`);
  }
  if (!isHttpUrl(indexUrl)) return undefined;
  const url = `${indexUrl.replace(/\/+$/, '')}/${encodeURIComponent(project)}/`;
  const page = await fetchPage(url, options);
  if (!page) return undefined;
  if (page.status === 200) return true;
  if (page.status === 404 || page.status === 410) return false;
  return undefined;
}

/**
 * Whether `name` (extras stripped) exists in the configured sources. True as soon as one source has it; false
 * only when every source answered and none has it; undefined when no source is configured or one that could
 * have it did not answer. Nothing but the configured sources is contacted.
 */
export async function packageExistsIn(sources: IndexSources, name: string, options: LookupOptions = {}): Promise<boolean | undefined> {
  const project = normaliseProjectName(stripExtras(name).trim());
  if (project === '') return false;
  const lookups = [
    ...sources.findLinks.map((location) => findLinksHas(location, project, options)),
    ...sources.indexUrls.map((url) => indexHas(url, project, options)),
  ];
  if (lookups.length === 0) return undefined;
  const answers = await Promise.all(lookups);
  if (answers.includes(true)) return true;
  return answers.every((a) => a === false) ? false : undefined;
}
