import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import { UnreadableFileError } from '../domain/errors.ts';
import { mergePackages, parsePackagesInfo, type ManagerVersion } from '../domain/packages.ts';
import { isValidProcessorName } from '../domain/processor.ts';
import type { Store } from '../store/types.ts';
import { PACKAGES_INFO, PROCESSOR_JSON, processorFolder, readProcessorJson } from './files.ts';

/** What the service knows of one processor's packagesInfo.json, parsed once per change of the file. */
export type Snapshot =
  | { state: 'missing' }
  | { state: 'empty' }
  | { state: 'unreadable'; error: UnreadableFileError }
  | { state: 'ok'; managerVersion?: ManagerVersion; listBody: Buffer };

const WATCHED_FILES = new Set([PACKAGES_INFO, PROCESSOR_JSON]);
const SETTLE_MS = 150;

/**
 * The processors folder: registers processors from their processor.json (folders added, changed or removed while
 * the service runs are picked up by a chokidar watcher) and keeps each packagesInfo.json parsed in memory, with
 * the listPackages answer already serialised, so that a request neither reads nor parses the file.
 */
export class ProcessorCatalog extends EventEmitter {
  readonly dir: string;
  private readonly store: Store;
  private readonly log: Logger;
  private readonly snapshots = new Map<string, Snapshot>();
  private watcher?: FSWatcher;
  /** Serialises registration writes so that a quick add/unlink/add of one folder lands in order. */
  private pending: Promise<void> = Promise.resolve();
  private readonly settleTimers = new Map<string, NodeJS.Timeout>();

  constructor(options: { processorsDir: string; store: Store; log: Logger }) {
    super();
    this.dir = resolve(options.processorsDir);
    this.store = options.store;
    this.log = options.log;
  }

  /** Scans the folder, registers what it finds, and watches it. Resolves when the first scan is done. */
  async start(): Promise<void> {
    await this.scan();
    const watcher = watch(this.dir, {
      ignoreInitial: true,
      depth: 1,
      // Inside a processor folder only the files procenv reads matter; never descend into .venv and the like.
      ignored: (path: string) => {
        const rel = relative(this.dir, path);
        if (rel === '' || rel.startsWith('..')) return false;
        const parts = rel.split(sep);
        return parts.length > 2 || (parts.length === 2 && !WATCHED_FILES.has(parts[1]!));
      },
    });
    this.watcher = watcher;
    watcher.on('all', (event, path) => this.onFsEvent(event, path));
    watcher.on('error', (err) => this.log.warn({ err }, 'processors folder watcher error'));
    await new Promise<void>((ready) => watcher.once('ready', () => ready()));
    this.log.info({ dir: this.dir }, 'processors folder watched');
  }

  async stop(): Promise<void> {
    for (const t of this.settleTimers.values()) clearTimeout(t);
    this.settleTimers.clear();
    await this.watcher?.close();
    await this.pending;
  }

  /** Waits until the registrations caused by the events seen so far are in the store (tests, CLI). */
  async settled(): Promise<void> {
    await this.pending;
  }

  folderOf(name: string): string {
    return processorFolder(this.dir, name);
  }

  /** The parsed snapshot of a processor; read from disk on first use, then kept until the file changes. */
  snapshot(name: string): Snapshot {
    let snap = this.snapshots.get(name);
    if (!snap) {
      snap = this.load(name);
      this.snapshots.set(name, snap);
    }
    return snap;
  }

  /** Forgets a processor's cached snapshot (after procenv itself rewrote the file, or on a watcher event). */
  invalidate(name: string): void {
    this.snapshots.delete(name);
    this.emit('snapshot', name);
  }

  private load(name: string): Snapshot {
    let text: string;
    try {
      text = readFileSync(join(this.folderOf(name), PACKAGES_INFO), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return { state: 'missing' };
      return { state: 'unreadable', error: new UnreadableFileError('SNAPSHOT_UNREADABLE', `${PACKAGES_INFO} cannot be read (${code})`, { cause: err }) };
    }
    if (text.trim() === '') return { state: 'empty' };
    try {
      const info = parsePackagesInfo(text);
      const list = mergePackages(info);
      return { state: 'ok', ...(info.packageManager ? { managerVersion: info.packageManager } : {}), listBody: Buffer.from(JSON.stringify(list)) };
    } catch (err) {
      if (err instanceof UnreadableFileError) {
        this.log.warn({ processor: name, code: err.code }, 'packagesInfo.json unreadable');
        return { state: 'unreadable', error: err };
      }
      throw err;
    }
  }

  /**
   * chokidar drops a second `change` of one path within 50 ms (and a second unlink within 100 ms) with no
   * follow-up, so a file written twice in quick succession would stay cached as the first write left it. Each
   * event therefore also schedules the same handling once more, 150 ms after the last event for that file.
   */
  private again(key: string, fn: () => void): void {
    fn();
    clearTimeout(this.settleTimers.get(key));
    const timer = setTimeout(() => {
      this.settleTimers.delete(key);
      fn();
    }, SETTLE_MS);
    timer.unref();
    this.settleTimers.set(key, timer);
  }

  private onFsEvent(event: string, path: string): void {
    const rel = relative(this.dir, path).split(sep);
    const name = rel[0];
    if (!name || !isValidProcessorName(name)) return;
    if (rel.length === 1) {
      if (event === 'unlinkDir') {
        this.invalidate(name);
        this.enqueue(() => this.unregisterFolder(name));
      } else if (event === 'addDir') {
        this.invalidate(name);
        this.enqueue(() => this.registerFolder(join(this.dir, name)));
      }
      return;
    }
    const file = rel[1];
    if (file === PACKAGES_INFO) {
      this.again(`${name}/${file}`, () => this.invalidate(name));
    } else if (file === PROCESSOR_JSON) {
      // Registration reads the file's current state, so running it again is always right.
      this.again(`${name}/${file}`, () => this.enqueue(() => this.syncFolder(name)));
    }
  }

  private enqueue(task: () => Promise<void>): void {
    this.pending = this.pending.then(task).catch((err) => this.log.error({ err }, 'processor registration failed'));
  }

  private async registerFolder(folder: string): Promise<void> {
    if (!existsSync(join(folder, PROCESSOR_JSON))) return;
    const { processor, problem } = readProcessorJson(folder);
    if (!processor) {
      this.log.warn({ folder: basename(folder), problem }, 'processor folder not registered');
      return;
    }
    try {
      await this.store.saveProcessor(processor);
      this.log.info({ processor: processor.name, processorId: processor.processorId }, 'processor registered');
      this.emit('processor', processor.name);
    } catch (err) {
      this.log.warn({ folder: basename(folder), err }, 'processor folder not registered');
    }
  }

  /** Registers the folder when it has a processor.json, unregisters it otherwise. */
  private async syncFolder(name: string): Promise<void> {
    if (existsSync(join(this.dir, name, PROCESSOR_JSON))) await this.registerFolder(join(this.dir, name));
    else await this.unregisterFolder(name);
  }

  private async unregisterFolder(name: string): Promise<void> {
    const processor = await this.store.findProcessorByName(name);
    if (processor?.source !== 'folder') return;
    if (existsSync(join(this.dir, name, PROCESSOR_JSON))) return;
    await this.store.removeProcessor(processor.processorId);
    this.log.info({ processor: name }, 'processor unregistered');
    this.emit('processor', name);
  }

  /** Registers every folder with a processor.json and drops folder registrations whose folder is gone. */
  async scan(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    for (const entry of readdirSync(this.dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || !isValidProcessorName(entry.name)) continue;
      await this.registerFolder(join(this.dir, entry.name));
    }
    for (const p of await this.store.listProcessors()) {
      if (p.source === 'folder' && !existsSync(join(this.dir, p.name, PROCESSOR_JSON))) {
        await this.store.removeProcessor(p.processorId);
        this.log.info({ processor: p.name }, 'processor unregistered');
      }
    }
  }
}
