import type { Logger } from 'pino';
import type { OperationLogLine } from '../domain/operation.ts';

const FLUSH_MS = 200;
const FLUSH_LINES = 200;
const MAX_LINE = 4000;
/** Lines kept in memory while the store does not take them; beyond this the oldest waiting lines are dropped. */
const MAX_WAITING = 20_000;
const RETRY_MS = 1_000;

/**
 * Collects an operation's log lines and writes them to the store in batches (a pip install prints hundreds of
 * lines; one store write per line would be the slowest part of the operation). A batch the store refuses (busy,
 * unavailable) is kept, in order, and written with the next one. `drain()` before the operation ends.
 */
export class LogBuffer {
  private lines: Omit<OperationLogLine, 'seq'>[] = [];
  private timer?: NodeJS.Timeout;
  private writing?: Promise<void>;
  private lastError?: unknown;
  private dropped = 0;
  private closed = false;

  /** `write` stores a batch (and publishes it: `Lifecycle.appendLog`). */
  constructor(private readonly write: (lines: Omit<OperationLogLine, 'seq'>[]) => Promise<void>, private readonly processObjId: string, private readonly log: Logger) {}

  push(stream: OperationLogLine['stream'], line: string): void {
    const entry = { t: Date.now(), stream, line: line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line };
    this.lines.push(entry);
    if (this.lines.length >= FLUSH_LINES) this.flushInBackground();
    else this.timer ??= setTimeout(() => this.flushInBackground(), FLUSH_MS);
  }

  /** Writes what is waiting; never rejects (a refused batch stays waiting). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.writing ??= this.writeWaiting().finally(() => {
      this.writing = undefined;
    });
    return this.writing;
  }

  /** Writes what is waiting; rejects with the store's error when lines are still waiting afterwards. */
  async drain(): Promise<void> {
    await this.flush();
    if (this.lines.length) throw this.lastError;
  }

  /** Stops retrying: what still waits is dropped (the operation is over and its worker stops). */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lines.length) this.log.warn({ operationId: this.processObjId, dropped: this.lines.length }, 'operation log lines dropped: the store did not take them');
    this.lines = [];
  }

  private flushInBackground(): void {
    if (this.closed) return;
    this.flush().catch((err) => this.log.warn({ err, operationId: this.processObjId }, 'operation log write failed'));
  }

  /** One write at a time, so lines reach the store in the order they were pushed, failed batches included. */
  private async writeWaiting(): Promise<void> {
    while (this.lines.length) {
      const batch = this.lines;
      this.lines = [];
      try {
        await this.write(batch);
        this.lastError = undefined;
      } catch (err) {
        this.lines = batch.concat(this.lines);
        if (this.lines.length > MAX_WAITING) {
          this.dropped += this.lines.length - MAX_WAITING;
          this.lines = this.lines.slice(-MAX_WAITING);
        }
        if (this.lastError === undefined) this.log.warn({ err, operationId: this.processObjId, waiting: this.lines.length, dropped: this.dropped }, 'operation log write failed; lines kept for the next attempt');
        this.lastError = err;
        if (!this.closed) {
          this.timer ??= setTimeout(() => this.flushInBackground(), RETRY_MS);
          this.timer.unref();
        }
        return;
      }
    }
  }
}
