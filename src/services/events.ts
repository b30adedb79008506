import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { ForbiddenError, NotFoundError, TooManyError, UnauthenticatedError } from '../domain/errors.ts';
import type { Caller } from '../domain/user.ts';
import type { EventHub } from '../events/hub.ts';
import { EventStream, type StreamFilter } from '../events/stream.ts';
import { TicketBook } from '../events/tickets.ts';
import type { EnvironmentService } from './environments.ts';
import type { OperationService } from './operations.ts';
import type { SessionService } from './sessions.ts';

export interface EventServiceOptions {
  hub: EventHub;
  sessions: SessionService;
  environments: EnvironmentService;
  operations: OperationService;
  log: Logger;
  keepAliveMs: number;
  retryMs: number;
  maxStreams: number;
  maxStreamsPerUser: number;
  maxPending: number;
  ticketMs: number;
}

/** Who may open which stream: tickets, the limits per user and per node, the checks of the filter. */
export class EventService {
  private readonly o: EventServiceOptions;
  private readonly tickets: TicketBook;
  private readonly perUser = new Map<string, number>();
  private readonly streams = new Set<EventStream>();

  constructor(options: EventServiceOptions) {
    this.o = options;
    this.tickets = new TicketBook(options.ticketMs);
  }

  get open(): number {
    return this.streams.size;
  }

  /** A ticket for one stream, made with the caller's session token (POST /events/tickets). */
  async ticket(sessionToken: string | undefined): Promise<{ ticket: string; expiresAt: number }> {
    await this.o.sessions.authenticate(sessionToken);
    return this.tickets.issue(sessionToken!);
  }

  /** The session token behind a request: its header, or a ticket (used up here). */
  tokenOf(header: string | undefined, ticket: string | undefined): string {
    if (header) return header;
    if (ticket === undefined) throw new UnauthenticatedError('send the x-session-token header, or a ticket from POST /events/tickets as ?ticket=');
    const token = this.tickets.redeem(ticket);
    if (!token) throw new UnauthenticatedError('the ticket is unknown, used or expired: ask POST /events/tickets for a new one');
    return token;
  }

  /** Checks the filter against the caller's rights before anything is streamed: a named processor or operation it cannot read is refused. */
  async checkFilter(caller: Caller, filter: StreamFilter): Promise<void> {
    for (const name of filter.processors ?? []) await this.o.environments.processorForRead(caller, name);
    if (filter.operation !== undefined) await this.o.operations.get(caller, filter.operation);
  }

  /** Opens a stream on `res` (the headers are written here) after the limits are checked. */
  openStream(caller: Caller, token: string, res: ServerResponse, filter: StreamFilter, lastEventId: number | undefined): void {
    if (this.streams.size >= this.o.maxStreams) {
      throw new TooManyError('TOO_MANY_STREAMS', `this node holds ${this.o.maxStreams} event streams already (events.maxStreams); try again later`);
    }
    const mine = this.perUser.get(caller.userId) ?? 0;
    if (mine >= this.o.maxStreamsPerUser) {
      throw new TooManyError('TOO_MANY_STREAMS', `you hold ${mine} event streams on this node already (events.maxStreamsPerUser); one stream carries every processor, close the others`);
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
      Connection: 'keep-alive',
    });
    res.write(`retry: ${this.o.retryMs}\n: procenv events\n\n`);
    this.perUser.set(caller.userId, mine + 1);
    let unsubscribe = () => {};
    const stream: EventStream = new EventStream({
      res, log: this.o.log, filter, keepAliveMs: this.o.keepAliveMs, maxPending: this.o.maxPending,
      canRead: (processor) => this.o.environments.processorForRead(caller, processor).then(() => true, (err) => {
        if (err instanceof ForbiddenError || err instanceof NotFoundError) return false;
        throw err;
      }),
      stillSignedIn: () => this.o.sessions.authenticate(token).then(() => true, (err) => {
        if (err instanceof UnauthenticatedError) return false;
        throw err;
      }),
      onClose: () => {
        unsubscribe();
        this.streams.delete(stream);
        const left = (this.perUser.get(caller.userId) ?? 1) - 1;
        if (left > 0) this.perUser.set(caller.userId, left);
        else this.perUser.delete(caller.userId);
      },
    });
    this.streams.add(stream);
    unsubscribe = this.o.hub.subscribe(stream, lastEventId);
  }

  /** Ends every stream (the service stops: the server cannot close while they are open). */
  closeAll(): void {
    for (const s of [...this.streams]) s.end('the service is stopping');
  }
}
