import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ProcenvEvent } from '../domain/events.ts';
import type { EventSink } from './hub.ts';

export interface StreamFilter {
  processors?: ReadonlySet<string>;
  operation?: string;
}

export interface EventStreamOptions {
  res: ServerResponse;
  log: Logger;
  filter: StreamFilter;
  /** Whether the stream's user may read a processor now (asked at most once a second per processor). */
  canRead: (processor: string) => Promise<boolean>;
  /** Whether the stream's session is still valid (asked at each keep-alive). */
  stillSignedIn: () => Promise<boolean>;
  keepAliveMs: number;
  /** Events that may wait for a slow client before the stream is closed. */
  maxPending: number;
  onClose: () => void;
}

const PERMISSION_CACHE_MS = 1_000;

/**
 * An event's message, made once however many streams send it: the hub hands every sink the same event objects,
 * and with 200 streams serialising per stream cost a fifth of the server's time per event (bench/events).
 */
const messages = new WeakMap<ProcenvEvent, string>();

function messageOf(event: ProcenvEvent): string {
  let text = messages.get(event);
  if (text === undefined) {
    text = `id: ${event.id}\ndata: ${JSON.stringify(event)}\n\n`;
    messages.set(event, text);
  }
  return text;
}

/**
 * One client's Server-Sent Events stream. Events arrive from the hub in id order; each is checked against the
 * filter and against the user's right to read its processor (at most a second old, so a revoked share stops them),
 * then written. Writes wait for the socket to drain, and a client that lets more than `maxPending` events pile up
 * is closed with the reason: it reconnects with its Last-Event-ID and reads the rest from the journal, so memory
 * never grows with a slow reader.
 */
export class EventStream implements EventSink {
  private readonly o: EventStreamOptions;
  private readonly pending: (ProcenvEvent | { reset: string; id: number })[] = [];
  private readonly readable = new Map<string, { ok: boolean; at: number }>();
  private pumping = false;
  private closed = false;
  private readonly keepAlive: NodeJS.Timeout;

  constructor(options: EventStreamOptions) {
    this.o = options;
    this.keepAlive = setInterval(() => this.ping(), options.keepAliveMs);
    this.keepAlive.unref();
    options.res.on('close', () => this.close());
  }

  deliver(events: readonly ProcenvEvent[]): void {
    if (this.closed) return;
    const { processors, operation } = this.o.filter;
    for (const e of events) {
      if (processors && !processors.has(e.processor)) continue;
      if (operation !== undefined && e.operationId !== operation) continue;
      this.pending.push(e);
    }
    if (this.pending.length > this.o.maxPending) {
      this.end('too far behind: reconnect with Last-Event-ID to read the rest');
      return;
    }
    this.pump();
  }

  reset(reason: string, resumeId: number): void {
    if (this.closed) return;
    this.pending.push({ reset: reason, id: resumeId });
    this.pump();
  }

  /** Ends the stream with a last message saying why (no id: the client resumes after the last event it got). */
  end(reason: string): void {
    if (this.closed) return;
    this.o.res.end(`data: ${JSON.stringify({ type: 'closing', reason })}\n\n`);
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending.length = 0;
    clearInterval(this.keepAlive);
    if (!this.o.res.writableEnded) this.o.res.end();
    this.o.onClose();
  }

  private ping(): void {
    if (this.closed) return;
    this.o.stillSignedIn().then((ok) => {
      if (!ok) this.end('the session has ended');
      else if (!this.closed) this.o.res.write(': keep-alive\n\n');
    }, (err) => this.o.log.warn({ err }, 'event stream session check failed'));
  }

  private pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    this.drain()
      .catch((err) => {
        this.o.log.warn({ err }, 'event stream failed');
        this.close();
      })
      .finally(() => {
        this.pumping = false;
      });
  }

  private async drain(): Promise<void> {
    while (this.pending.length && !this.closed) {
      const next = this.pending.shift()!;
      let text: string;
      if ('reset' in next) {
        text = `id: ${next.id}\ndata: ${JSON.stringify({ id: next.id, type: 'reset', at: Date.now(), reason: next.reset })}\n\n`;
      } else {
        if (!(await this.mayRead(next.processor))) continue;
        text = messageOf(next);
      }
      if (this.closed) return;
      if (!this.o.res.write(text)) await new Promise<void>((resolve) => {
        const done = () => {
          this.o.res.off('drain', done);
          this.o.res.off('close', done);
          resolve();
        };
        this.o.res.on('drain', done);
        this.o.res.on('close', done);
      });
    }
  }

  private async mayRead(processor: string): Promise<boolean> {
    const now = Date.now();
    const hit = this.readable.get(processor);
    if (hit && now - hit.at < PERMISSION_CACHE_MS) return hit.ok;
    const ok = await this.o.canRead(processor).catch(() => false);
    if (this.readable.size > 10_000) this.readable.clear();
    this.readable.set(processor, { ok, at: now });
    return ok;
  }
}
