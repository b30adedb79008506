import type { Logger } from 'pino';

/** Why procenv refuses (part of) a processor folder: a file that is a link out, a FIFO, too big, a hijacked id… */
export interface FolderProblem {
  /** The processor folder's name. */
  folder: string;
  /** The file concerned (`processor.json`, `packagesInfo.json`, …), or `""` for the folder itself. */
  file: string;
  reason: string;
  /** When procenv first saw this reason (ms). */
  since: number;
}

/**
 * The refused folders and files, as an admin reads them (`GET /catalog/problems`). Each problem is logged at warn
 * once, when it appears or its reason changes, not on every request that meets it.
 */
export class ProblemList {
  private readonly byFolder = new Map<string, Map<string, FolderProblem>>();

  constructor(private readonly log: Logger) {}

  report(folder: string, file: string, reason: string): void {
    let files = this.byFolder.get(folder);
    if (files?.get(file)?.reason === reason) return;
    if (!files) this.byFolder.set(folder, (files = new Map()));
    files.set(file, { folder, file, reason, since: Date.now() });
    this.log.warn({ folder, file, reason }, 'processor folder refused');
  }

  /** Forgets the problem of one file, or (without `file`) every problem of the folder. */
  clear(folder: string, file?: string): void {
    const files = this.byFolder.get(folder);
    if (!files) return;
    if (file === undefined) files.clear();
    else files.delete(file);
    if (files.size === 0) this.byFolder.delete(folder);
  }

  of(folder: string): FolderProblem[] {
    return [...(this.byFolder.get(folder)?.values() ?? [])];
  }

  list(): FolderProblem[] {
    return [...this.byFolder.values()].flatMap((files) => [...files.values()]).sort((a, b) => a.folder.localeCompare(b.folder) || a.file.localeCompare(b.file));
  }
}
