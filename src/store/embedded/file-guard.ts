import { statSync } from 'node:fs';
import type { Logger } from 'pino';
import { StoreUnavailableError } from '../../domain/errors.ts';

const CHECK_EVERY_MS = 1_000;

type Problem = 'deleted' | 'replaced';

const MESSAGES: Record<Problem, string> = {
  deleted: 'the store file was deleted while procenv was running; changes are refused until it is put back',
  replaced: 'the store file was replaced by another file while procenv was running; changes are refused until the original is put back or procenv is restarted',
};

/**
 * Watches that the store's path still names the file the service opened (same device and inode). SQLite keeps
 * writing to a file that was deleted or renamed away, so without this check every change after such an accident
 * would be lost silently while the CLI, which opens the path, sees another store. The path is checked every
 * second and before each change; a problem is logged at error level once, and once more when it is over.
 */
export class StoreFileGuard {
  private readonly dev: number;
  private readonly ino: number;
  private problem?: Problem;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly file: string, private readonly log?: Logger) {
    const opened = statSync(file);
    this.dev = opened.dev;
    this.ino = opened.ino;
    this.timer = setInterval(() => this.check(), CHECK_EVERY_MS);
    this.timer.unref();
  }

  /** Throws StoreUnavailableError while the path does not name the opened file. */
  assertIntact(): void {
    const problem = this.check();
    if (problem) throw new StoreUnavailableError(MESSAGES[problem], { details: { reason: problem } });
  }

  check(): Problem | undefined {
    let now: Problem | undefined;
    try {
      const st = statSync(this.file, { throwIfNoEntry: false });
      now = !st ? 'deleted' : st.dev !== this.dev || st.ino !== this.ino ? 'replaced' : undefined;
    } catch {
      // A folder that cannot be read any more is, for the service, a file that is gone.
      now = 'deleted';
    }
    if (now !== this.problem) {
      if (now) this.log?.error({ file: this.file, reason: now }, 'store file is no longer the one procenv opened; changes are refused');
      else this.log?.info({ file: this.file }, 'store file is back; changes are accepted again');
      this.problem = now;
    }
    return now;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
