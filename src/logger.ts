import { pino, type DestinationStream, type Logger } from 'pino';

/** Paths pino censors wherever they appear: tokens, keys and the headers that carry them never reach a log. */
export const REDACT_PATHS = [
  'token', '*.token', 'sessionId', '*.sessionId', 'key', '*.key', 'clusterKey', '*.clusterKey', 'password', '*.password',
  'headers["x-session-token"]', '*.headers["x-session-token"]',
  'headers["x-procenv-cluster-key"]', '*.headers["x-procenv-cluster-key"]',
  'headers.authorization', '*.headers.authorization',
  'mongodbUrl', '*.mongodbUrl',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, base: { service: 'procenv' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}
