// @ts-check
// The tab's one event stream (GET /events). A browser's EventSource cannot send the session header, so each
// connection starts with a single-use ticket (POST /events/tickets, with the header). A ticket works once: when the
// stream drops, the browser's own reconnect would present a spent ticket, so the panel closes the stream, asks for a
// new ticket and opens a new stream that resumes after the last event seen (`lastEventId` in the query, as the
// Last-Event-ID header would say). Events carry no `event:` line; the type is inside the JSON.

/**
 * @typedef {{ id?: string | number, type: string, at?: number, processor?: string, operationId?: string, [field: string]: any }} LiveEvent
 * @typedef {'off' | 'connecting' | 'live' | 'reconnecting' | 'unavailable'} LiveState
 */

const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 5_000;

export class LiveEvents {
  /** @param {import('./api.js').Api} api @param {(state: LiveState) => void} onState */
  constructor(api, onState) {
    this.api = api;
    this.onState = onState;
    /** @type {LiveState} */
    this.state = 'off';
    /** @type {Set<(event: LiveEvent) => void>} */
    this.listeners = new Set();
    /** @type {string | null} */
    this.lastEventId = null;
    /** @type {EventSource | null} */
    this.source = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.attempt = 0;
    this.opened = false;
    this.running = false;
  }

  /** Whether events arrive now (views then poll only as a safety net). */
  get live() {
    return this.state === 'live';
  }

  /**
   * Every event of the stream, and two the panel adds: `reconnected` after a stream came back (state may have
   * changed meanwhile) and `reset` as the server sends it. Answers the unsubscribe function.
   * @param {(event: LiveEvent) => void} listener
   */
  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.connect().catch(() => this.retryLater());
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
    this.source?.close();
    this.source = null;
    this.opened = false;
    this.lastEventId = null;
    this.setState('off');
  }

  async connect() {
    if (!this.running) return;
    this.setState(this.opened ? 'reconnecting' : 'connecting');
    let ticket;
    try {
      ticket = (await this.api.post('/events/tickets'))?.ticket;
    } catch (err) {
      if (!this.running) return;
      const status = /** @type {{ status?: number }} */ (err).status;
      // A procenv without the stream: the views follow operations by polling instead.
      if (status === 404 || status === 405) {
        this.setState('unavailable');
        return;
      }
      // 401: the session is gone; the panel signs out (Api.onUnauthenticated) and stops this stream.
      if (status === 401) return;
      this.retryLater();
      return;
    }
    if (!this.running) return;
    if (typeof ticket !== 'string' || ticket === '') {
      this.retryLater();
      return;
    }
    const params = new URLSearchParams({ ticket });
    if (this.lastEventId !== null) params.set('lastEventId', this.lastEventId);
    const source = new EventSource(`/events?${params}`);
    this.source = source;
    source.onopen = () => {
      if (this.source !== source) return;
      const reconnected = this.opened;
      this.opened = true;
      this.attempt = 0;
      this.setState('live');
      if (reconnected) this.emit({ type: 'reconnected' });
    };
    source.onmessage = (message) => {
      if (this.source !== source) return;
      /** @type {LiveEvent} */
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (!event || typeof event.type !== 'string') return;
      if (message.lastEventId) this.lastEventId = message.lastEventId;
      else if (event.id !== undefined && event.id !== null) this.lastEventId = String(event.id);
      this.emit(event);
    };
    source.onerror = () => {
      if (this.source !== source) return;
      // The browser would reconnect with the spent ticket: close, and come back with a new one.
      source.close();
      this.source = null;
      this.retryLater();
    };
  }

  retryLater() {
    if (!this.running) return;
    this.setState('reconnecting');
    clearTimeout(this.timer);
    const step = Math.min(RETRY_FIRST_MS * 2 ** this.attempt, RETRY_MAX_MS);
    this.attempt += 1;
    // Jitter: many tabs of a restarted service do not all come back in the same millisecond.
    const delay = step / 2 + Math.random() * (step / 2);
    this.timer = setTimeout(() => {
      this.connect().catch(() => this.retryLater());
    }, delay);
  }

  /** @param {LiveEvent} event */
  emit(event) {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        console.error('event listener failed', err);
      }
    }
  }

  /** @param {LiveState} state */
  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.onState(state);
  }
}
