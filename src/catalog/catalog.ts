import { EventEmitter } from 'node:events';
import { lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { Worker } from 'node:worker_threads';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import { ConflictError, UnreadableFileError } from '../domain/errors.ts';
import { parsePackagesInfo, type ManagerVersion, type PackagesInfo } from '../domain/packages.ts';
import { isValidProcessorName, type Processor } from '../domain/processor.ts';
import type { Store } from '../store/types.ts';
import { CachedAnswer } from '../util/cached-answer.ts';
import {
  DEFAULT_LIMITS, ENV_ACTIONS, PACKAGES_INFO, PROCESSOR_JSON, historyLines, processorFolder, readProcessorJson, removeEnvActions, writeFileAtomic, type FileLimits,
} from './files.ts';
import { FolderGuard } from './folder-guard.ts';
import { ProblemList, type FolderProblem } from './problems.ts';
import { fileKey, parseSnapshot, type PackageCounts, type ParsedSnapshot, type ReadAheadMessage } from './snapshot-read.ts';
import { folderProblem, readTenantFile } from './tenant-files.ts';

/** What the service knows of one processor's packagesInfo.json, parsed once per change of the file. */
export type Snapshot =
  | { state: 'missing' }
  | { state: 'empty' }
  | { state: 'unreadable'; error: UnreadableFileError }
  | { state: 'ok'; managerVersion?: ManagerVersion; list: CachedAnswer; counts: PackageCounts };

export type { PackageCounts } from './snapshot-read.ts';

const WATCHED_FILES = new Set([PACKAGES_INFO, PROCESSOR_JSON, ENV_ACTIONS]);
/** The problem-list entry of a folder's environment (a `python` not allowed, an environment leading out). */
const ENVIRONMENT = 'environment';

export interface CatalogOptions {
  processorsDir: string;
  store: Store;
  log: Logger;
  limits?: Partial<FileLimits>;
  /** How often the processors folder itself is checked (ms); 0 turns the check off. */
  folderCheckMs?: number;
  /** Whether every snapshot is read ahead at start (see readAhead); default true. */
  readAhead?: boolean;
  /** Why a processor's environment must not be used (composition: the managers' checks), reported per folder. */
  environmentProblem?: (processor: Processor, folder: string) => string | undefined;
}

/** One cached history: the lines, the identity of the file they were read from, and the lines as a JSON answer. */
interface CachedHistory {
  key: string;
  lines: string[];
  answer?: CachedAnswer;
}
const SETTLE_MS = 150;

/**
 * The processors folder: registers processors from their processor.json (folders added, changed or removed while
 * the service runs are picked up by a chokidar watcher) and keeps each packagesInfo.json parsed in memory, with
 * the listPackages answer already serialised, so that a request neither reads nor parses the file.
 */
export class ProcessorCatalog extends EventEmitter {
  readonly dir: string;
  readonly limits: FileLimits;
  private readonly store: Store;
  private readonly log: Logger;
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly histories = new Map<string, CachedHistory>();
  private readonly problemList: ProblemList;
  private readonly environmentProblem?: CatalogOptions['environmentProblem'];
  /** Folders refused because they claim a processorId another folder holds: tried again when that one goes. */
  private readonly claimants = new Map<string, Set<string>>();
  private readonly guard: FolderGuard;
  private stopped = false;
  private readonly readAheadOn: boolean;
  /** The read-ahead under way (see readAhead), and its worker while it runs. */
  private readingAhead?: Promise<void>;
  private aheadWorker?: Worker;
  private watcher?: FSWatcher;
  /**
   * Until the watcher's first scan is over, its events cannot be counted on: each snapshot read meanwhile notes the
   * identity of its file here, is checked against it on every use, and is checked once more when the watcher is ready.
   * Undefined once the watcher reports.
   */
  private unwatched: Map<string, string> | undefined = new Map();
  private watchedOnce?: Promise<void>;
  private releaseWatch?: () => void;
  /** Serialises registration writes so that a quick add/unlink/add of one folder lands in order. */
  private pending: Promise<void> = Promise.resolve();
  private readonly settleTimers = new Map<string, NodeJS.Timeout>();
  /** The identity of each registered folder's processor.json when it was read: a scan passes over the unchanged. */
  private readonly registeredKeys = new Map<string, string>();
  /** The packagesInfo.json version last reported per processor (`packagesFile` events, `rewritten`). */
  private readonly packagesKeys = new Map<string, string>();

  constructor(options: CatalogOptions) {
    super();
    this.readAheadOn = options.readAhead !== false;
    this.dir = resolve(options.processorsDir);
    this.store = options.store;
    this.log = options.log;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.problemList = new ProblemList(options.log);
    this.environmentProblem = options.environmentProblem;
    this.guard = new FolderGuard({
      dir: this.dir, intervalMs: options.folderCheckMs ?? 1000, log: options.log,
      onBack: () => this.recover(), onRemoval: () => this.enqueue(() => this.scan()),
    });
  }

  /**
   * Scans the folder and registers what it finds; resolves then, so that the service can answer at once. Beside the
   * requests, two passes over every folder follow: the watcher's own first one (0.6 s for 1,000 processors, on this
   * thread), and the read-ahead of every snapshot (0.8 s for 1,000 processors of 300 packages, on a worker thread),
   * which is what a processor's first listPackages would otherwise wait for. Until the watcher is ready every
   * snapshot is checked against its file on each use. `watched()` resolves once it is ready and what changed
   * meanwhile has been seen.
   */
  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    await this.scan();
    if (this.readAheadOn) this.readingAhead = this.readAhead();
    this.watchedOnce = this.watch().then((ready) => (ready ? this.caughtUp() : undefined));
    this.guard.start();
  }

  /**
   * Reads the snapshot of every registered processor not read yet, so that the first listPackages of each finds
   * its answer ready, as after a first pass of requests. The files are read and parsed on a worker thread (the
   * other core, while this one registers, watches and answers); each snapshot it sends is kept only if its file
   * is still the one it read (and then checked as any other until the watcher is ready). A file the worker does not
   * answer for (missing, refused, empty, not valid) is read here, which reports why. Without a worker, the files are
   * read here, in slices of a few milliseconds with requests answered between them.
   */
  private async readAhead(): Promise<void> {
    const started = performance.now();
    const names = [...this.registeredKeys.keys()].filter((name) => !this.snapshots.has(name));
    let where = 'worker';
    try {
      await this.readAheadInWorker(names);
    } catch (err) {
      if (this.stopped) return;
      this.log.warn({ err }, 'snapshots read ahead on the main thread: no worker');
      where = 'main thread';
      await this.readAheadHere(names.filter((name) => !this.snapshots.has(name)));
    }
    if (!this.stopped) this.log.info({ snapshots: names.length, ms: Math.round(performance.now() - started), where }, 'snapshots read ahead');
  }

  private async readAheadInWorker(names: string[]): Promise<void> {
    if (names.length === 0) return;
    const worker = startWorker(new URL('./snapshot-worker.js', import.meta.url), { maxBytes: this.limits.packagesInfoBytes });
    this.aheadWorker = worker;
    try {
      await new Promise<void>((resolve, reject) => {
        worker.on('error', reject);
        worker.on('exit', (code) => (this.stopped ? resolve() : reject(new Error(`the read-ahead worker exited with ${code}`))));
        worker.on('message', (msg: ReadAheadMessage | { done: true }) => {
          if ('done' in msg) return resolve();
          if (!this.stopped) this.takeReadAhead(msg);
        });
        worker.postMessage(names.map((name) => [name, this.folderOf(name)]));
      });
    } finally {
      this.aheadWorker = undefined;
      await worker.terminate();
    }
  }

  /** One snapshot from the worker: kept when nothing read it meanwhile and its file is still the one read. */
  private takeReadAhead(msg: ReadAheadMessage): void {
    const { name } = msg;
    if (this.snapshots.has(name) || !this.registeredKeys.has(name)) return;
    if (msg.key === undefined || !msg.bytes || !msg.counts) {
      this.snapshot(name);
      return;
    }
    if (fileKey(this.folderOf(name), PACKAGES_INFO) !== msg.key) return;
    this.problemList.clear(name, PACKAGES_INFO);
    const body = Buffer.from(msg.bytes.buffer, msg.bytes.byteOffset, msg.bytes.byteLength);
    this.snapshots.set(name, okSnapshot({ body, counts: msg.counts, ...(msg.managerVersion ? { managerVersion: msg.managerVersion } : {}) }));
    this.unwatched?.set(name, msg.key);
  }

  private async readAheadHere(names: string[], sliceMs = 2): Promise<void> {
    let sliceStart = performance.now();
    for (const name of names) {
      if (this.stopped) return;
      if (!this.snapshots.has(name)) this.snapshot(name);
      if (performance.now() - sliceStart >= sliceMs) {
        await new Promise((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
  }

  /** Whether the processors folder is there and watched now (false before the watcher is ready, while the folder is gone, and while it is taken up again). */
  get watching(): boolean {
    return !this.stopped && this.unwatched === undefined && this.guard.present;
  }

  /** Resolves once the watcher reports changes and the read-ahead is over (or the catalog stopped first). */
  async watched(): Promise<void> {
    await this.watchedOnce;
    await this.readingAhead;
  }

  /** The watcher is ready: snapshots read before are checked against their files, and folders are looked at again. */
  private async caughtUp(): Promise<void> {
    this.checkNoted();
    if (this.stopped) return;
    this.enqueue(() => this.scan());
    await this.pending;
  }

  /** Drops the snapshots whose file changed since they were read without a watcher, and relies on events again. */
  private checkNoted(): void {
    const noted = this.unwatched;
    this.unwatched = undefined;
    for (const [name, key] of noted ?? []) {
      if (this.snapshots.has(name) && fileKey(this.folderOf(name), PACKAGES_INFO) !== key) this.invalidate(name);
    }
  }

  /** The refused folders and files, with the reason (admins: GET /catalog/problems). */
  problems(): FolderProblem[] {
    return this.problemList.list();
  }

  /** Watch first, then scan: a folder added between the two is then seen by one or the other. */
  private recover(): void {
    this.enqueue(async () => {
      this.unwatched ??= new Map();
      // A first watcher not ready yet is given up: this recovery does its catching up.
      this.releaseWatch?.();
      await this.watcher?.close();
      this.watcher = undefined;
      this.snapshots.clear();
      this.histories.clear();
      if (!this.stopped) await this.watch();
      this.checkNoted();
      await this.scan();
    });
  }

  /** Starts the watcher; resolves true once it is ready, false when it was closed first. */
  private async watch(): Promise<boolean> {
    const watcher = watch(this.dir, {
      ignoreInitial: true,
      depth: 1,
      // A symlinked processor folder is refused (see registerFolder): chokidar must report the link, not enter it.
      followSymlinks: false,
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
    const ready = await new Promise<boolean>((resolve) => {
      watcher.once('ready', () => resolve(true));
      this.releaseWatch = () => resolve(false);
    });
    this.releaseWatch = undefined;
    if (ready) this.log.info({ dir: this.dir }, 'processors folder watched');
    return ready;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.releaseWatch?.();
    await this.aheadWorker?.terminate();
    await this.readingAhead;
    this.guard.stop();
    for (const t of this.settleTimers.values()) clearTimeout(t);
    this.settleTimers.clear();
    // A recovery under way may still open a watcher: close whichever is there once it is done.
    await this.pending;
    await this.watcher?.close();
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
    if (this.unwatched) {
      // Before the watcher reports: the file's identity decides (taken before the read, so a write during it shows).
      const key = fileKey(this.folderOf(name), PACKAGES_INFO);
      if (snap && this.unwatched.get(name) === key) return snap;
      this.unwatched.set(name, key);
      snap = undefined;
    }
    if (!snap) {
      snap = this.load(name);
      this.snapshots.set(name, snap);
    }
    return snap;
  }

  /**
   * procenv itself rewrote a processor's packagesInfo.json: the cached snapshot goes, and the watcher's event for
   * this very file is not taken for a change by another hand.
   */
  rewritten(name: string): void {
    this.packagesKeys.set(name, fileKey(this.folderOf(name), PACKAGES_INFO));
    this.invalidate(name);
  }

  /** Forgets a processor's cached snapshot (after procenv itself rewrote the file, or on a watcher event). */
  invalidate(name: string): void {
    this.snapshots.delete(name);
    this.emit('snapshot', name);
  }

  /**
   * The lines of a processor's envActionsList.txt, read once per change of the file: each call compares the file's
   * identity (inode, size, modification time: one lstat) with the one the cached lines came from, so procenv's own
   * atomic writes (a new inode) and a tenant's edits are seen at once without reading the file on every request.
   * A refused file (a link, a FIFO, over catalog.maxEnvActionsBytes) is UnreadableFileError HISTORY_UNREADABLE.
   */
  history(name: string): string[] {
    return this.cachedHistory(name).lines;
  }

  /** The lines and, from the same look at the file, the answer environmentActions sends (serialised once per change). */
  historyAnswer(name: string): { lines: string[]; answer: CachedAnswer } {
    const cached = this.cachedHistory(name);
    cached.answer ??= CachedAnswer.of(JSON.stringify(cached.lines));
    return { lines: cached.lines, answer: cached.answer };
  }

  private cachedHistory(name: string): CachedHistory {
    const folder = this.folderOf(name);
    const key = fileKey(folder, ENV_ACTIONS);
    const hit = this.histories.get(name);
    if (hit && hit.key === key) return hit;
    const read = readTenantFile(folder, ENV_ACTIONS, this.limits.envActionsBytes, 'catalog.maxEnvActionsBytes');
    if (read.state === 'refused') {
      this.histories.delete(name);
      this.problemList.report(name, ENV_ACTIONS, read.reason);
      throw new UnreadableFileError('HISTORY_UNREADABLE', `${ENV_ACTIONS} is refused: ${read.reason}`);
    }
    this.problemList.clear(name, ENV_ACTIONS);
    const lines = read.state === 'ok' ? historyLines(read.text) : [];
    if (this.histories.size >= 10_000) this.histories.clear();
    const entry = { key, lines };
    this.histories.set(name, entry);
    return entry;
  }

  /**
   * Appends a command to a processor's envActionsList.txt (dropped when it equals the last line, as WASDI's "jump
   * duplicate", reference §3.1) and rewrites the file atomically; `beforeWrite` gets the new line's index first.
   * The lines are read as `history` reads them, so a refused file (a link, a FIFO, over the limit) is refused here
   * too (HISTORY_UNREADABLE) and never written through. Answers whether a line was added.
   */
  async appendHistory(name: string, command: string, beforeWrite?: (index: number) => Promise<void>): Promise<boolean> {
    const lines = this.history(name);
    if (lines.at(-1) === command) return false;
    await beforeWrite?.(lines.length);
    writeFileAtomic(join(this.folderOf(name), ENV_ACTIONS), `${[...lines, command].join('\n')}\n`);
    this.histories.delete(name);
    return true;
  }

  /** Deletes a processor's envActionsList.txt (reset) and forgets its cached lines. */
  async removeHistory(name: string): Promise<void> {
    await removeEnvActions(this.folderOf(name));
    this.histories.delete(name);
  }

  /**
   * A processor's packagesInfo.json read and parsed now rather than taken from the cache (which keeps only the
   * listPackages answer): what a generation seen on disk is made of. Undefined when the file is missing, empty,
   * refused or unreadable (the cached snapshot reports why).
   */
  readPackagesInfo(name: string): PackagesInfo | undefined {
    const read = readTenantFile(this.folderOf(name), PACKAGES_INFO, this.limits.packagesInfoBytes, 'catalog.maxPackagesInfoBytes');
    if (read.state !== 'ok' || read.text.trim() === '') return undefined;
    try {
      return parsePackagesInfo(read.text);
    } catch (err) {
      if (err instanceof UnreadableFileError) return undefined;
      throw err;
    }
  }

  /** When a processor's packagesInfo.json was last written (ms); undefined when it is not a regular file there. */
  packagesInfoModifiedAt(name: string): number | undefined {
    try {
      const stat = lstatSync(join(this.folderOf(name), PACKAGES_INFO), { throwIfNoEntry: false });
      return stat?.isFile() ? Math.round(stat.mtimeMs) : undefined;
    } catch {
      return undefined;
    }
  }

  private load(name: string): Snapshot {
    const read = readTenantFile(this.folderOf(name), PACKAGES_INFO, this.limits.packagesInfoBytes, 'catalog.maxPackagesInfoBytes');
    if (read.state === 'missing') {
      this.problemList.clear(name, PACKAGES_INFO);
      return { state: 'missing' };
    }
    if (read.state === 'refused') {
      // Nothing of the file is parsed or served; the reason is in the answer (500, as any unreadable snapshot).
      this.problemList.report(name, PACKAGES_INFO, read.reason);
      return { state: 'unreadable', error: new UnreadableFileError('SNAPSHOT_UNREADABLE', `${PACKAGES_INFO} is refused: ${read.reason}`) };
    }
    this.problemList.clear(name, PACKAGES_INFO);
    const text = read.text;
    if (text.trim() === '') return { state: 'empty' };
    try {
      return okSnapshot(parseSnapshot(text));
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
      // With followSymlinks off, a link in the processors folder arrives as a file (add/unlink): it is refused.
      if (event === 'unlinkDir' || event === 'unlink') {
        this.invalidate(name);
        this.guard.noteRemoval();
        this.enqueue(() => this.unregisterFolder(name));
      } else if (event === 'addDir' || event === 'add') {
        this.invalidate(name);
        this.enqueue(() => this.registerFolder(name));
      }
      return;
    }
    const file = rel[1];
    if (file === PACKAGES_INFO) {
      this.again(`${name}/${file}`, () => {
        this.invalidate(name);
        // Emitted once per version of the file (the event comes twice, and for procenv's own writes too).
        const key = fileKey(this.folderOf(name), PACKAGES_INFO);
        if (this.packagesKeys.get(name) === key) return;
        if (this.packagesKeys.size >= 100_000) this.packagesKeys.clear();
        this.packagesKeys.set(name, key);
        this.emit('packagesFile', name);
      });
    } else if (file === ENV_ACTIONS) {
      this.again(`${name}/${file}`, () => this.histories.delete(name));
    } else if (file === PROCESSOR_JSON) {
      // Registration reads the file's current state, so running it again is always right.
      this.again(`${name}/${file}`, () => this.enqueue(() => this.syncFolder(name)));
    }
  }

  private enqueue(task: () => Promise<void>): void {
    this.pending = this.pending.then(task).catch((err) => this.log.error({ err }, 'processor registration failed'));
  }

  /** A folder procenv can register: a real directory (never a link) holding a processor.json entry. */
  private hasDescriptor(name: string): boolean {
    const folder = join(this.dir, name);
    if (folderProblem(folder) !== undefined) return false;
    try {
      lstatSync(join(folder, PROCESSOR_JSON));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Registers the folder from its processor.json. Refused, reported and logged once: a folder that is a link or
   * not a directory (a registration it had is dropped), a processor.json that is not a regular file or not valid,
   * and a processorId another folder (or the store) already holds under another name: the registration that
   * exists wins, and this folder is tried again when that one goes.
   */
  private async registerFolder(name: string): Promise<void> {
    const folder = join(this.dir, name);
    const problem = folderProblem(folder);
    if (problem === 'absent') return;
    if (problem !== undefined) {
      this.problemList.report(name, '', problem);
      await this.unregisterFolder(name);
      return;
    }
    this.problemList.clear(name, '');
    if (!this.hasDescriptor(name)) return;
    // Taken before the read: a change during it shows as a different identity at the next scan.
    const key = fileKey(folder, PROCESSOR_JSON);
    this.registeredKeys.delete(name);
    const { processor, problem: invalid } = readProcessorJson(folder, this.limits.processorJsonBytes);
    if (!processor) {
      this.problemList.report(name, PROCESSOR_JSON, invalid ?? 'invalid');
      return;
    }
    const holder = await this.store.findProcessorById(processor.processorId);
    if (holder && holder.name !== name) {
      let waiting = this.claimants.get(processor.processorId);
      if (!waiting) this.claimants.set(processor.processorId, (waiting = new Set()));
      waiting.add(name);
      this.problemList.report(name, PROCESSOR_JSON, `processorId "${processor.processorId}" is already registered by processor "${holder.name}"; this claim is refused`);
      return;
    }
    // Registered as it is (a restart, or the second look once the watcher is ready): no write, no event.
    const unchanged = holder !== undefined && JSON.stringify(holder) === JSON.stringify(processor);
    if (!unchanged) {
      try {
        await this.store.saveProcessor(processor);
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        this.problemList.report(name, PROCESSOR_JSON, err.message);
        return;
      }
    }
    this.forgetClaim(name);
    this.problemList.clear(name, PROCESSOR_JSON);
    const envProblem = this.environmentProblem?.(processor, folder);
    if (envProblem) this.problemList.report(name, ENVIRONMENT, envProblem);
    else this.problemList.clear(name, ENVIRONMENT);
    this.registeredKeys.set(name, key);
    if (unchanged) return;
    this.log.info({ processor: processor.name, processorId: processor.processorId }, 'processor registered');
    this.emit('processor', processor.name);
  }

  private forgetClaim(name: string): void {
    for (const [id, names] of this.claimants) {
      names.delete(name);
      if (names.size === 0) this.claimants.delete(id);
    }
  }

  /** Registers the folder when it has a processor.json, unregisters it otherwise. */
  private async syncFolder(name: string): Promise<void> {
    if (this.hasDescriptor(name)) await this.registerFolder(name);
    else await this.unregisterFolder(name);
  }

  /** Drops the folder's registration once it has no processor.json (or is no longer a real folder). */
  private async unregisterFolder(name: string): Promise<void> {
    if (this.hasDescriptor(name)) return;
    if (folderProblem(join(this.dir, name)) === 'absent') this.problemList.clear(name);
    else this.problemList.clear(name, PROCESSOR_JSON);
    this.forgetClaim(name);
    this.histories.delete(name);
    this.registeredKeys.delete(name);
    const processor = await this.store.findProcessorByName(name);
    if (processor?.source !== 'folder') return;
    await this.store.removeProcessor(processor.processorId);
    this.log.info({ processor: name }, 'processor unregistered');
    this.emit('processor', name);
    await this.retryClaimants(processor.processorId);
  }

  /** The id is free again: the first folder (in name order) that was refused for claiming it gets it. */
  private async retryClaimants(processorId: string): Promise<void> {
    const waiting = [...(this.claimants.get(processorId) ?? [])].sort();
    this.claimants.delete(processorId);
    for (const name of waiting) await this.registerFolder(name);
  }

  /**
   * Registers every folder with a processor.json and drops folder registrations whose folder is gone. Folders are
   * taken in name order, so when two folders claim one processorId on an empty store the first name wins (and an
   * existing registration always wins). Links are refused here exactly as when they appear at run time.
   */
  async scan(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const entries = readdirSync(this.dir, { withFileTypes: true })
      .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && isValidProcessorName(e.name))
      .map((e) => e.name)
      .sort();
    for (const name of entries) {
      // Registered from this very processor.json already (the second look once the watcher is ready): nothing to do.
      const known = this.registeredKeys.get(name);
      if (known !== undefined && known === fileKey(join(this.dir, name), PROCESSOR_JSON)) continue;
      await this.registerFolder(name);
    }
    for (const p of await this.store.listProcessors()) {
      if (p.source === 'folder' && !this.hasDescriptor(p.name)) await this.unregisterFolder(p.name);
    }
    const present = new Set(entries);
    for (const problem of this.problemList.list()) if (!present.has(problem.folder)) this.problemList.clear(problem.folder);
  }
}

function okSnapshot({ body, counts, managerVersion }: ParsedSnapshot): Snapshot {
  return { state: 'ok', ...(managerVersion ? { managerVersion } : {}), list: new CachedAnswer(body), counts };
}

/**
 * A worker thread running `script` (a compiled module beside this one). Run from the TypeScript sources (tests,
 * development), the worker is given tsx first: on Node 20 a worker does not inherit the loader it was started under.
 */
function startWorker(script: URL, workerData: unknown): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(script, { workerData });
  const source = new URL(script.href.replace(/\.js$/, '.ts'));
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(source.href)}); })`, { eval: true, workerData });
}
