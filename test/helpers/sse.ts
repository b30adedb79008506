import { request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';

/** One message of a Server-Sent Events stream as a client sees it. */
export interface SseMessage {
  id?: string;
  data?: any;
  retry?: number;
  /** A comment line (`: keep-alive`). */
  comment?: string;
}

export interface SseClient {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body when the answer is not a stream (an error). */
  body?: any;
  messages: SseMessage[];
  /** Data messages (events and the stream's own `reset` / `closing`). */
  events(): any[];
  /** Waits until `predicate` holds for the messages so far (rejects after `timeoutMs`). */
  until(predicate: (events: any[]) => boolean, timeoutMs?: number): Promise<any[]>;
  ended: Promise<void>;
  /** The raw response (tests pause it to be a slow reader). */
  res: IncomingMessage;
  close(): void;
}

/**
 * Opens `GET {base}/events` with node:http (what an EventSource does, without the browser) and parses the stream
 * per the SSE format: messages end at a blank line; `id:`, `data:`, `retry:` fields; `:` comments.
 */
export function openEvents(base: string, options: { query?: string; headers?: Record<string, string> } = {}): Promise<SseClient> {
  const url = new URL(`/events${options.query ? `?${options.query}` : ''}`, base);
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...options.headers } }, (res) => {
      const messages: SseMessage[] = [];
      const waiters = new Set<() => void>();
      let buffer = '';
      let raw = '';
      let endedResolve!: () => void;
      const ended = new Promise<void>((r) => (endedResolve = r));
      const streaming = (res.headers['content-type'] ?? '').startsWith('text/event-stream');
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (!streaming) {
          raw += chunk;
          return;
        }
        buffer += chunk;
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const m: SseMessage = {};
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) m.comment = line.slice(1).trim();
            else if (line.startsWith('id:')) m.id = line.slice(3).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
            else if (line.startsWith('retry:')) m.retry = Number(line.slice(6));
          }
          if (data.length) m.data = JSON.parse(data.join('\n'));
          messages.push(m);
        }
        for (const w of waiters) w();
      });
      res.on('close', () => {
        endedResolve();
        for (const w of waiters) w();
      });
      const events = () => messages.filter((m) => m.data !== undefined).map((m) => m.data);
      const client: SseClient = {
        status: res.statusCode ?? 0, headers: res.headers, messages, events, ended, res,
        until(predicate, timeoutMs = 15_000) {
          return new Promise((ok, fail) => {
            const check = () => {
              if (predicate(events())) {
                cleanup();
                ok(events());
              } else if (res.closed) {
                cleanup();
                fail(new Error(`the stream ended first; events: ${JSON.stringify(events().map((e) => e.type))}`));
              }
            };
            const timer = setTimeout(() => {
              cleanup();
              fail(new Error(`timed out; events so far: ${JSON.stringify(events().map((e) => e.type))}`));
            }, timeoutMs);
            const cleanup = () => {
              clearTimeout(timer);
              waiters.delete(check);
            };
            waiters.add(check);
            check();
          });
        },
        close() {
          req.destroy();
        },
      };
      if (streaming) resolve(client);
      else res.on('end', () => resolve({ ...client, body: raw ? JSON.parse(raw) : undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}
