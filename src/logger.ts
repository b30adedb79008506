import { pino, type DestinationStream, type Logger } from 'pino';

/** Paths pino censors wherever they appear: tokens, keys and the headers that carry them never reach a log. */
export const REDACT_PATHS = [
  'token', '*.token', 'sessionId', '*.sessionId', 'key', '*.key', 'clusterKey', '*.clusterKey', 'metricsToken', '*.metricsToken', 'password', '*.password',
  'headers["x-session-token"]', '*.headers["x-session-token"]',
  'headers["x-procenv-cluster-key"]', '*.headers["x-procenv-cluster-key"]',
  'headers.authorization', '*.headers.authorization',
  'mongodbUrl', '*.mongodbUrl',
];

export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * pino JSON lines for services and log collectors; readable lines (pino-pretty, in pino's transport thread) for a
 * person at a terminal: `auto` picks them when standard output is a terminal. Redaction applies to both.
 */
export function createLogger(level: string, destination?: DestinationStream, format: LogFormat = 'json'): Logger {
  const options = { level, base: { service: 'procenv' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  const pretty = !destination && (format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true));
  if (pretty) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' } } });
  }
  return pino(options, destination);
}
