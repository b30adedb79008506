/**
 * Domain errors. Each carries a stable `code` that API clients can branch on, an optional `details`
 * object and the `cause`. They know nothing of HTTP: `src/http/errors.ts` maps each class to a status.
 */
export class ProcenvError extends Error {
  readonly code: string;
  readonly details?: Record<string, unknown>;

  constructor(code: string, message: string, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details;
  }
}

/** The request is malformed: a missing or repeated parameter, an invalid update command, a bad body. */
export class InvalidInputError extends ProcenvError {}

/** No session token, or one that is unknown or expired. */
export class UnauthenticatedError extends ProcenvError {
  constructor(message = 'a valid x-session-token header is required') {
    super('UNAUTHENTICATED', message);
  }
}

/** The user may not see or change this resource (also used, as WASDI does, for names that do not exist). */
export class ForbiddenError extends ProcenvError {}

/** The resource does not exist (procenv's own JSON API; WASDI's endpoints answer 400 or 403 instead). */
export class NotFoundError extends ProcenvError {}

/** The call is valid only on the main node (or only on a compute node). */
export class WrongNodeError extends ProcenvError {}

/** The request conflicts with the current state (an operation that already ended, a reused key). */
export class ConflictError extends ProcenvError {}

/** A processor file exists but cannot be read as what it should be (WASDI answers these with 500). */
export class UnreadableFileError extends ProcenvError {}

/** A node-to-node request came back to a node it already passed through, or to the main node. */
export class LoopDetectedError extends ProcenvError {}

/** The method is not allowed on this resource. */
export class MethodNotAllowedError extends ProcenvError {}

/** Over a limit of what one caller or one node may hold at once (event streams). */
export class TooManyError extends ProcenvError {}

/**
 * The store cannot take a change now: it stayed locked by another process past the wait budget, its server cannot
 * be reached, or its file was deleted or replaced under the running service. Trying again later may succeed.
 */
export class StoreUnavailableError extends ProcenvError {
  constructor(message: string, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super('STORE_UNAVAILABLE', message, options);
  }
}
