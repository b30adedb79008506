import { basename, dirname, resolve, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import type { AdvisoryDatabase, SkippedFile } from '../domain/advisories.ts';
import { AdvisoryLoadError, DEFAULT_ADVISORY_LIMITS, isZipPath, loadAdvisories, type AdvisoryLimits } from './advisory-files.ts';

/** What an answer tells of the advisory database. */
export type AdvisoryDatabaseState =
  | { configured: false }
  | {
    configured: true;
    source: 'folder' | 'zip';
    /** The file or folder's own name (not the server's path). */
    name: string;
    /** true until the first load has ended. */
    loading: boolean;
    /** ms since the epoch; absent until a load succeeded. */
    loadedAt?: number;
    advisories: number;
    packages: number;
    files: number;
    /** Files not taken, and why (the first 100). */
    skipped: SkippedFile[];
    skippedCount: number;
    /** The last load that failed, when it came after the last that succeeded (the database answered is the one before). */
    lastError?: { at: number; message: string };
  };

/** Names of skipped files given in the state, at most (all are logged). */
const MAX_SKIPPED_SHOWN = 100;
/** Skipped files logged one by one per load, at most; the rest in one line with their count. */
const MAX_SKIPPED_LOGGED = 50;

/**
 * The advisory database named by the config, kept loaded: read at start, then again when the folder or zip changes
 * (watched with chokidar, changes debounced so that an export being unpacked is read once it settles). A load that
 * fails keeps the database before it and is logged as a warning; files that cannot be taken are skipped and logged.
 */
export class AdvisoryFeed {
  private database?: AdvisoryDatabase;
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private loading?: Promise<void>;
  private again = false;
  private stopped = false;
  private readonly path: string;
  private state: Extract<AdvisoryDatabaseState, { configured: true }>;
  private readonly firstLoad: Promise<void>;
  private firstLoaded!: () => void;
  private watching: Promise<void> = Promise.resolve();
  private releaseWatching?: () => void;

  constructor(private readonly o: { path: string; log: Logger; debounceMs?: number; limits?: AdvisoryLimits; now?: () => number }) {
    this.path = resolve(o.path);
    this.state = {
      configured: true, source: isZipPath(this.path) ? 'zip' : 'folder', name: basename(this.path), loading: true,
      advisories: 0, packages: 0, files: 0, skipped: [], skippedCount: 0,
    };
    this.firstLoad = new Promise((done) => {
      this.firstLoaded = done;
    });
  }

  /** The database answered now (undefined until a first load succeeded). */
  current(): AdvisoryDatabase | undefined {
    return this.database;
  }

  describe(): AdvisoryDatabaseState {
    return { ...this.state, skipped: [...this.state.skipped] };
  }

  /**
   * Resolves once the first load has ended (whether it succeeded or not) and the watcher is ready, so that a change
   * made from then on is seen.
   */
  async ready(): Promise<void> {
    await this.firstLoad;
    await this.watching;
  }

  /**
   * Starts the first load and the watcher, in the background: neither holds up the service's start (a folder of a
   * whole export takes chokidar a moment to scan). Answers say `loading` until the first load has ended.
   */
  start(): void {
    this.reload();
    // The parent folder is watched: a zip replaced by a rename, or a folder made after the start, is seen too.
    const parent = dirname(this.path);
    const inside = (p: string) => p === this.path || p.startsWith(this.path + sep);
    const watcher = watch(parent, {
      ignoreInitial: true,
      followSymlinks: false,
      depth: this.state.source === 'zip' ? 0 : 8,
      ignored: (p: string) => p !== parent && !inside(resolve(p)),
    });
    this.watcher = watcher;
    watcher.on('all', (_event, p) => {
      if (inside(resolve(p))) this.schedule();
    });
    watcher.on('error', (err) => this.o.log.warn({ err }, 'advisory database watcher error'));
    this.watching = new Promise<void>((ready) => {
      watcher.once('ready', () => ready());
      this.releaseWatching = ready;
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.releaseWatching?.();
    await this.watcher?.close();
    await this.loading;
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload(), this.o.debounceMs ?? 500);
    this.timer.unref();
  }

  /** One load at a time; a change seen during a load makes one more after it. */
  private reload(): void {
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = this.load().finally(() => {
      this.loading = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        this.reload();
      }
    });
  }

  private async load(): Promise<void> {
    const now = this.o.now ?? Date.now;
    const started = now();
    try {
      const loaded = await loadAdvisories(this.path, this.o.limits ?? DEFAULT_ADVISORY_LIMITS);
      this.database = loaded.database;
      this.state = {
        configured: true, source: loaded.source, name: basename(this.path), loading: false, loadedAt: now(),
        advisories: loaded.database.size, packages: loaded.database.packageCount, files: loaded.files,
        skipped: loaded.skipped.slice(0, MAX_SKIPPED_SHOWN), skippedCount: loaded.skipped.length,
      };
      for (const s of loaded.skipped.slice(0, MAX_SKIPPED_LOGGED)) this.o.log.warn({ file: s.file, reason: s.reason }, 'advisory file skipped');
      if (loaded.skipped.length > MAX_SKIPPED_LOGGED) this.o.log.warn({ more: loaded.skipped.length - MAX_SKIPPED_LOGGED }, 'more advisory files skipped');
      this.o.log.info({ source: loaded.source, advisories: loaded.database.size, files: loaded.files, skipped: loaded.skipped.length, durationMs: now() - started }, 'advisory database loaded');
    } catch (err) {
      const message = err instanceof AdvisoryLoadError ? err.message : 'the advisory database could not be read';
      this.state = { ...this.state, loading: false, lastError: { at: now(), message } };
      const kept = this.database ? 'the previous database' : 'none';
      this.o.log.warn(err instanceof AdvisoryLoadError ? { reason: message, kept } : { err, kept }, 'advisory database not loaded');
    } finally {
      this.firstLoaded();
    }
  }
}
