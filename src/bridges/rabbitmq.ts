import type { ChannelModel, ConfirmChannel } from 'amqplib';
import type { Logger } from 'pino';
import { withoutCredentials } from '../domain/cluster.ts';
import type { ProcenvEvent } from '../domain/events.ts';
import type { OperationView } from '../domain/operation.ts';
import type { EventSink } from '../events/hub.ts';
import type { EventStore } from '../store/types.ts';
import { SerialRunner } from '../util/serial-runner.ts';

/** WASDI's RabbitMQ message (`wasdishared/.../rabbit/Send.java`), as wasdiClient2 reads it. */
export interface WasdiMessage {
  messageCode: 'ENVIRONMENTUPDATE' | 'UPDATEPROCESSES';
  messageResult: 'OK' | 'KO';
  payload: string;
  workspaceId: string;
}

/**
 * The WASDI messages an event means, on the main node `nodeCode`: UPDATEPROCESSES at each status change of one of
 * its ENVIRONMENTUPDATE operations (`<processObjId>;<status>;<progressPerc>`, as the launcher sends for the process
 * list), and ENVIRONMENTUPDATE with WASDI's texts when one ends (reference §5.2 step 6).
 */
export function messagesOf(event: ProcenvEvent, nodeCode: string): WasdiMessage[] {
  const op = event.operation as OperationView | undefined;
  if (!op || op.nodeCode !== nodeCode) return [];
  const update = (status: string, perc: number): WasdiMessage => ({
    messageCode: 'UPDATEPROCESSES', messageResult: 'OK', payload: `${op.processObjId};${status};${perc}`, workspaceId: op.workspaceId,
  });
  switch (event.type) {
    case 'operation.queued':
    case 'operation.requeued':
      return [update('CREATED', 0)];
    case 'operation.running':
      return [update('RUNNING', op.progressPerc)];
    case 'operation.ended': {
      const ok = op.status === 'DONE';
      return [update(op.status, 100), {
        messageCode: 'ENVIRONMENTUPDATE', messageResult: ok ? 'OK' : 'KO', workspaceId: op.workspaceId,
        payload: ok ? `${op.productName} application<br>Environment Updated` : `GURU MEDITATION<br>Error updating ${op.productName} Environment`,
      }];
    }
    default:
      return [];
  }
}

export interface RabbitBridgeOptions {
  url: string;
  exchange: string;
  nodeCode: string;
  store: EventStore;
  log: Logger;
  /** Where the bridge stands in the journal (the last event whose messages the broker confirmed). */
  cursor: { load(): Promise<number | undefined>; save(id: number): Promise<void> };
  retryBaseMs?: number;
  retryMaxMs?: number;
}

const PAGE = 200;

/**
 * Publishes the event journal to RabbitMQ for WASDI's web client, at least once and in order: it reads the journal
 * from its cursor, publishes on a confirm channel, and moves the cursor (kept in the store) only once the broker
 * confirmed. A broker that is down or restarts loses nothing: the bridge reconnects with backoff and publishes what
 * waits. It is an event sink of the hub only to be woken; what it sends always comes from the journal.
 */
export class RabbitBridge implements EventSink {
  private readonly o: RabbitBridgeOptions;
  private readonly runner = new SerialRunner(() => this.pump());
  private connection?: ChannelModel;
  private channel?: ConfirmChannel;
  private cursor = 0;
  private stopped = true;
  private failures = 0;
  private retryTimer?: NodeJS.Timeout;
  private readonly where: string;

  constructor(options: RabbitBridgeOptions) {
    this.o = options;
    // The URL as it may be logged: never its user and password.
    this.where = withoutCredentials(options.url);
  }

  async start(): Promise<void> {
    const saved = await this.o.cursor.load();
    // First enabled: from now on, not the whole history.
    this.cursor = saved ?? (await this.o.store.eventBounds()).last;
    if (saved === undefined) await this.o.cursor.save(this.cursor);
    this.stopped = false;
    this.runner.trigger();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    while (this.runner.busy) await new Promise((r) => setTimeout(r, 10));
    await this.disconnect();
  }

  /** Events journaled but not confirmed by the broker yet. */
  async lag(): Promise<number> {
    return Math.max(0, (await this.o.store.eventBounds()).last - this.cursor);
  }

  deliver(): void {
    if (!this.stopped && !this.retryTimer) this.runner.trigger();
  }

  reset(): void {
    // The bridge reads the journal itself; a stream's reset says nothing about its cursor.
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        if (this.stopped) return;
        const page = await this.o.store.readEvents(this.cursor, PAGE);
        if (page.length === 0) return;
        // A hole after the cursor: pruned before it was published (the journal is read again only then).
        if (page[0]!.id !== this.cursor + 1 && ((await this.o.store.eventBounds()).first ?? Infinity) > this.cursor + 1) {
          this.o.log.error({ from: this.cursor + 1, to: page[0]!.id - 1 }, 'events left the journal before they were published to RabbitMQ');
        }
        const messages = page.flatMap((e) => messagesOf(e, this.o.nodeCode));
        if (messages.length) {
          const channel = await this.connect();
          for (const m of messages) {
            channel.publish(this.o.exchange, m.workspaceId, Buffer.from(JSON.stringify(m)), { contentType: 'application/json', persistent: true });
          }
          await channel.waitForConfirms();
        }
        this.cursor = page.at(-1)!.id;
        await this.o.cursor.save(this.cursor);
        if (this.failures) this.o.log.info({ broker: this.where }, 'RabbitMQ publishing again');
        this.failures = 0;
        if (page.length < PAGE) return;
      }
    } catch (err) {
      this.failures++;
      const base = this.o.retryBaseMs ?? 500;
      const delay = Math.random() * Math.min(this.o.retryMaxMs ?? 30_000, base * 2 ** Math.min(this.failures - 1, 20)) + base / 2;
      if (this.failures === 1) this.o.log.warn({ broker: this.where, error: withoutCredentials(String((err as Error).message)) }, 'RabbitMQ publish failed; retrying with backoff, nothing is lost');
      await this.disconnect();
      if (!this.stopped) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.runner.trigger();
        }, delay);
        this.retryTimer.unref();
      }
    }
  }

  private async connect(): Promise<ConfirmChannel> {
    if (this.channel) return this.channel;
    // Loaded when the bridge first connects: a node without RabbitMQ never loads amqplib.
    const { default: amqp } = await import('amqplib');
    const connection = await amqp.connect(this.o.url, { timeout: 5_000 });
    // Errors end in 'close'; both only drop the channel here: the next pump connects again.
    connection.on('error', () => undefined);
    connection.on('close', () => {
      if (this.connection === connection) {
        this.connection = undefined;
        this.channel = undefined;
      }
    });
    this.connection = connection;
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    channel.on('close', () => {
      if (this.channel === channel) this.channel = undefined;
    });
    await channel.checkExchange(this.o.exchange);
    this.channel = channel;
    this.o.log.info({ broker: this.where, exchange: this.o.exchange }, 'RabbitMQ connected');
    return channel;
  }

  private async disconnect(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    this.channel = undefined;
    await connection?.close().catch(() => undefined);
  }
}
