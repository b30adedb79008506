import type { Logger } from 'pino';
import type { ProcenvEvent } from '../domain/events.ts';
import type { EventStore } from '../store/types.ts';
import { SerialRunner } from '../util/serial-runner.ts';

/** What the hub hands events to: the SSE streams (`events/stream.ts`), and later metrics and the RabbitMQ bridge. */
export interface EventSink {
  /** Events in id order, each exactly once, none skipped (a sink past the retention gets `reset` instead). */
  deliver(events: readonly ProcenvEvent[]): void;
  /**
   * The journal no longer holds the events after the id this sink asked for: it must read the state again, and
   * goes on after `resumeId`.
   */
  reset(reason: string, resumeId: number): void;
}

export interface EventHubOptions {
  store: EventStore;
  log: Logger;
  /** How often the journal is read for events other processes on the store wrote (ms). */
  pollMs: number;
  /** Events kept: the newest `retentionCount`, none older than `retentionMs`. */
  retentionCount: number;
  retentionMs: number;
  /** How long a hole in the ids is waited for (MongoDB: another process's event not yet committed) (ms). */
  gapWaitMs?: number;
  /** Events read per look at the journal. */
  pageSize?: number;
}

interface Entry {
  sink: EventSink;
  /** The last id this sink has. */
  cursor: number;
  /** Catching up from the journal: the live feed passes it by until it has reached the hub. */
  live: boolean;
}

/**
 * The single source of events for this process: it reads the store's journal in id order and hands each event to
 * every sink. Writes in this process poke it (`poke()`), so their events go out at once; events of other processes
 * on the same store arrive at the next poll. A sink that starts from an earlier id (`Last-Event-ID`) first reads
 * what it missed from the journal and then joins the live feed, with no event lost or repeated between the two.
 */
export class EventHub {
  private readonly o: EventHubOptions;
  private readonly entries = new Set<Entry>();
  private readonly reader = new SerialRunner(() => this.tail());
  private timer?: NodeJS.Timeout;
  private pruner?: NodeJS.Timeout;
  /** The last id handed to the live sinks. */
  private cursor = 0;
  private gapSince?: number;
  private started = false;
  private failing = false;

  constructor(options: EventHubOptions) {
    this.o = options;
  }

  /** The newest id this process has seen (a new stream without Last-Event-ID starts after it). */
  get lastId(): number {
    return this.cursor;
  }

  get sinks(): number {
    return this.entries.size;
  }

  async start(): Promise<void> {
    this.cursor = (await this.o.store.eventBounds()).last;
    this.started = true;
    this.timer = setInterval(() => this.poke(), this.o.pollMs);
    this.timer.unref();
    const prune = () => this.prune().catch((err) => this.o.log.warn({ err }, 'old events not pruned'));
    this.pruner = setInterval(prune, Math.min(60_000, Math.max(1_000, this.o.retentionMs / 10)));
    this.pruner.unref();
    prune();
  }

  stop(): void {
    this.started = false;
    clearInterval(this.timer);
    clearInterval(this.pruner);
  }

  /** Reads the journal now (this process journaled something). */
  poke(): void {
    if (this.started) this.reader.trigger();
  }

  /**
   * Adds a sink. Without `after` it gets what is journaled from now on; with it, everything after that id first
   * (or `reset` when the journal no longer goes back that far). Answers the function that removes it.
   */
  subscribe(sink: EventSink, after?: number): () => void {
    const entry: Entry = { sink, cursor: after ?? this.cursor, live: after === undefined || after >= this.cursor };
    this.entries.add(entry);
    if (!entry.live) {
      this.catchUp(entry).catch((err) => {
        this.o.log.warn({ err }, 'event stream could not read the journal');
        if (!this.entries.has(entry)) return;
        sink.reset('the event journal could not be read', this.cursor);
        entry.cursor = this.cursor;
        entry.live = true;
      });
    }
    return () => this.entries.delete(entry);
  }

  private async catchUp(entry: Entry): Promise<void> {
    const bounds = await this.o.store.eventBounds();
    if (entry.cursor > bounds.last) {
      // An id from the future: another store, or a journal that was started over.
      entry.sink.reset(`event ${entry.cursor} is unknown here (the newest is ${bounds.last})`, this.cursor);
      entry.cursor = this.cursor;
      entry.live = true;
      return;
    }
    if (entry.cursor < bounds.last && (bounds.first === undefined || bounds.first > entry.cursor + 1)) {
      entry.sink.reset(`events after ${entry.cursor} are no longer kept`, this.cursor);
      entry.cursor = this.cursor;
      entry.live = true;
      return;
    }
    const size = this.o.pageSize ?? 500;
    while (this.entries.has(entry) && entry.cursor < this.cursor) {
      const page = await this.o.store.readEvents(entry.cursor, Math.min(size, this.cursor - entry.cursor));
      if (page.length === 0) break;
      entry.cursor = page.at(-1)!.id;
      entry.sink.deliver(page);
    }
    // Checked and set in one step: whatever the hub hands out from here on is after this sink's cursor.
    if (entry.cursor < this.cursor) {
      entry.sink.reset(`events up to ${this.cursor} could not be read`, this.cursor);
      entry.cursor = this.cursor;
    }
    entry.live = true;
  }

  private async tail(): Promise<void> {
    const size = this.o.pageSize ?? 500;
    try {
      for (;;) {
        const page = await this.o.store.readEvents(this.cursor, size);
        if (this.failing) this.o.log.info('event journal readable again');
        this.failing = false;
        const ready = this.contiguous(page);
        if (ready.length) this.dispatch(ready);
        if (page.length < size || ready.length < page.length) return;
      }
    } catch (err) {
      if (!this.failing) this.o.log.warn({ err }, 'event journal not readable; events wait until it is');
      this.failing = true;
    }
  }

  /** The events that follow the cursor without a hole; a hole is waited for `gapWaitMs`, then passed over. */
  private contiguous(page: readonly ProcenvEvent[]): readonly ProcenvEvent[] {
    let expected = this.cursor + 1;
    for (const [i, e] of page.entries()) {
      if (e.id !== expected) {
        const now = Date.now();
        this.gapSince ??= now;
        if (now - this.gapSince < (this.o.gapWaitMs ?? 2_000)) {
          // Looked at again at the next poll.
          return page.slice(0, i);
        }
        this.o.log.warn({ from: expected, to: e.id - 1 }, 'event ids never written: passed over');
      }
      this.gapSince = undefined;
      expected = e.id + 1;
    }
    return page;
  }

  private dispatch(events: readonly ProcenvEvent[]): void {
    this.cursor = events.at(-1)!.id;
    for (const entry of this.entries) {
      if (!entry.live) continue;
      const fresh = entry.cursor >= events[0]!.id ? events.filter((e) => e.id > entry.cursor) : events;
      if (fresh.length === 0) continue;
      entry.cursor = fresh.at(-1)!.id;
      try {
        entry.sink.deliver(fresh);
      } catch (err) {
        this.o.log.error({ err }, 'event sink failed');
      }
    }
  }

  private async prune(): Promise<void> {
    const removed = await this.o.store.pruneEvents(this.o.retentionCount, Date.now() - this.o.retentionMs);
    if (removed) this.o.log.debug({ removed }, 'old events pruned');
  }
}
