import type { Logger } from 'pino';
import type { OperationLogLine } from '../domain/operation.ts';
import type { Store } from '../store/types.ts';

const FLUSH_MS = 200;
const FLUSH_LINES = 200;
const MAX_LINE = 4000;

/**
 * Collects an operation's log lines and writes them to the store in batches (a pip install prints hundreds of
 * lines; one store write per line would be the slowest part of the operation). `flush()` before the operation ends.
 */
export class LogBuffer {
  private lines: Omit<OperationLogLine, 'seq'>[] = [];
  private timer?: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly store: Store, private readonly processObjId: string, private readonly log: Logger) {}

  push(stream: OperationLogLine['stream'], line: string): void {
    const entry = { t: Date.now(), stream, line: line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}…` : line };
    this.lines.push(entry);
    if (this.lines.length >= FLUSH_LINES) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.lines;
    this.lines = [];
    if (batch.length) {
      this.writing = this.writing
        .then(() => this.store.appendOperationLog(this.processObjId, batch))
        .catch((err) => this.log.warn({ err, operationId: this.processObjId }, 'operation log write failed'));
    }
    return this.writing;
  }
}
