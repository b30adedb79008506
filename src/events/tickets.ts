import { createHash, randomBytes } from 'node:crypto';

/**
 * Single-use tickets that open an event stream: a browser's EventSource cannot send the `x-session-token` header,
 * and a session token must never travel in a URL (it would reach proxy and server logs and the browser's history).
 * A ticket is made with the session token, is good once, for at most a minute, on the node that made it (tickets
 * live in this process's memory: a stream opened through a load balancer must reach the same node, or ask anew).
 * Only a hash of each ticket is kept.
 */
export class TicketBook {
  private readonly tickets = new Map<string, { token: string; expiresAt: number }>();

  constructor(private readonly ttlMs: number, private readonly max = 100_000) {}

  issue(sessionToken: string, now = Date.now()): { ticket: string; expiresAt: number } {
    this.sweep(now);
    if (this.tickets.size >= this.max) this.tickets.delete(this.tickets.keys().next().value!);
    const ticket = randomBytes(24).toString('base64url');
    const expiresAt = now + this.ttlMs;
    this.tickets.set(hash(ticket), { token: sessionToken, expiresAt });
    return { ticket, expiresAt };
  }

  /** The session token the ticket was made with; undefined when unknown, used or expired. Used up either way. */
  redeem(ticket: string, now = Date.now()): string | undefined {
    if (ticket.length > 100) return undefined;
    const key = hash(ticket);
    const entry = this.tickets.get(key);
    this.tickets.delete(key);
    return entry && entry.expiresAt > now ? entry.token : undefined;
  }

  private sweep(now: number): void {
    for (const [key, entry] of this.tickets) if (entry.expiresAt <= now) this.tickets.delete(key);
  }
}

function hash(ticket: string): string {
  return createHash('sha256').update(ticket).digest('base64url');
}
