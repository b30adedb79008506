import { statSync } from 'node:fs';
import type { Logger } from 'pino';

/**
 * The watcher cannot follow the processors folder itself: moved away and back (or replaced), chokidar reports its
 * folders gone and never sees them return. So the folder's identity (device and inode) is checked every
 * `intervalMs`: its disappearance is a warning, once; when it is back, or is another folder now, `onBack` runs
 * (watch and scan again). A processor folder removed and put back between two checks leaves no event behind for
 * chokidar either, so after any removal the next check asks for a scan (`onRemoval`).
 */
export class FolderGuard {
  private identity?: string;
  private removed = false;
  private timer?: NodeJS.Timeout;

  constructor(private readonly options: {
    dir: string;
    intervalMs: number;
    log: Logger;
    onBack: () => void;
    onRemoval: () => void;
  }) {}

  start(): void {
    this.identity = this.identityOfDir();
    if (this.options.intervalMs <= 0) return;
    this.timer = setInterval(() => this.check(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Whether the folder was there at the last check. */
  get present(): boolean {
    return this.identity !== undefined;
  }

  /** A processor folder went away: the next check scans again (it may have come back unseen). */
  noteRemoval(): void {
    this.removed = true;
  }

  private identityOfDir(): string | undefined {
    try {
      const st = statSync(this.options.dir);
      return st.isDirectory() ? `${st.dev}:${st.ino}` : undefined;
    } catch {
      return undefined;
    }
  }

  private check(): void {
    const { dir, log } = this.options;
    const identity = this.identityOfDir();
    if (identity === undefined) {
      if (this.identity !== undefined) log.warn({ dir }, 'processors folder is gone; its processors are not served until it is back');
      this.identity = undefined;
      return;
    }
    if (identity !== this.identity) {
      const wasGone = this.identity === undefined;
      this.identity = identity;
      this.removed = false;
      log.info({ dir, wasGone }, 'processors folder is back or replaced; watching and scanning it again');
      this.options.onBack();
    } else if (this.removed) {
      this.removed = false;
      this.options.onRemoval();
    }
  }
}
