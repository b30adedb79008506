import {
  ConflictError, ForbiddenError, InvalidInputError, LoopDetectedError, MethodNotAllowedError, NotFoundError, ProcenvError, StoreUnavailableError,
  TooManyError, UnauthenticatedError, UnreadableFileError, WrongNodeError,
} from '../domain/errors.ts';

/**
 * The one table from domain error class to HTTP status (as strapi's errors middleware). WASDI answers a call on
 * the wrong node with 400 and an unreadable snapshot with 500; procenv keeps both.
 */
const STATUS_BY_CLASS: [new (...args: never[]) => ProcenvError, number][] = [
  [InvalidInputError, 400],
  [WrongNodeError, 400],
  [UnauthenticatedError, 401],
  [ForbiddenError, 403],
  [NotFoundError, 404],
  [ConflictError, 409],
  [UnreadableFileError, 500],
  [LoopDetectedError, 508],
  [MethodNotAllowedError, 405],
  [TooManyError, 429],
  [StoreUnavailableError, 503],
];

export interface ErrorAnswer {
  status: number;
  body: { error: { code: string; message: string; details?: Record<string, unknown> } };
  /** Whether the error is one the service did not expect (logged at error level with its stack). */
  unexpected: boolean;
}

/** Koa's own errors (`ctx.throw`, body parsers) carry `status` and `expose`. */
interface HttpishError extends Error {
  status?: number;
  statusCode?: number;
  expose?: boolean;
  type?: string;
}

export function toErrorAnswer(err: unknown): ErrorAnswer {
  if (err instanceof ProcenvError) {
    const status = STATUS_BY_CLASS.find(([cls]) => err instanceof cls)?.[1] ?? 500;
    const error: ErrorAnswer['body']['error'] = { code: err.code, message: err.message };
    if (err.details) error.details = err.details;
    return { status, body: { error }, unexpected: false };
  }
  const e = err as HttpishError;
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = e.type ? e.type.toUpperCase().replaceAll('.', '_') : `HTTP_${status}`;
    return { status, body: { error: { code, message: e.expose ? e.message : 'bad request' } }, unexpected: false };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error' } }, unexpected: true };
}
