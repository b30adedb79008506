import { ProcenvError } from '../domain/errors.ts';
import type { CommandResult } from './run-command.ts';

/**
 * Stable codes of package-manager failures. A failed operation stores `{ code, message }`, so clients branch on
 * these: a command that ran and failed, one stopped by its time limit or by a cancel, a tool that is not there,
 * an environment that could not be created or read.
 */
export type ManagerErrorCode =
  | 'COMMAND_FAILED'
  | 'COMMAND_TIMEOUT'
  | 'COMMAND_CANCELLED'
  | 'COMMAND_NOT_FOUND'
  | 'ENVIRONMENT_FAILED'
  | 'ENVIRONMENT_REFUSED'
  | 'UNEXPECTED_OUTPUT';

/**
 * A package manager (or the process runner under it) failed. The message says what failed and ends with the
 * tool's own last error lines (pip's `ERROR: …`), never the environment or arguments that could hold secrets.
 */
export class ManagerError extends ProcenvError {
  declare readonly code: ManagerErrorCode;

  constructor(code: ManagerErrorCode, message: string, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(code, message, options);
  }
}

const MAX_ERROR_LINES = 8;
const MAX_LINE_LENGTH = 300;

/** pip's `ERROR: …`, conda's `CondaError: …` / `PackagesNotFoundError: …`, Python's `SomethingError: …`. */
function isErrorLine(line: string): boolean {
  return /^(ERROR|Error|error)\b|^[A-Za-z_.]*Error:/.test(line.trimStart());
}

/**
 * The lines of a tool's output worth putting in an error message: its error lines (above); when there are none, the last non-empty lines. At most a few, each cut short.
 */
export function errorLinesOf(output: string, max = MAX_ERROR_LINES): string[] {
  const lines = output.split(/\r?\n/).map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
  const marked = lines.filter(isErrorLine);
  const chosen = (marked.length > 0 ? marked : lines).slice(-max);
  return chosen.map((l) => (l.length > MAX_LINE_LENGTH ? `${l.slice(0, MAX_LINE_LENGTH)}…` : l));
}

/** `what` followed by the tool's error lines, one per line, for a ManagerError message. */
export function messageWithOutput(what: string, output: string): string {
  const lines = errorLinesOf(output);
  return lines.length === 0 ? what : `${what}:\n${lines.join('\n')}`;
}

/**
 * Removes credentials a URL may carry (`https://user:token@host/…` → `https://***@host/…`) from text that goes
 * into an error message or a log line: index URLs come from config and pip echoes them back.
 */
export function redactUrls(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, '$1***@');
}

/**
 * The error for a command result that is not a success, or undefined for a success (exit status 0): a timeout
 * and a cancel get their own codes whatever the exit status; anything else non-zero gets `failCode` and the
 * tool's error lines (stderr first: pip and conda write their errors there).
 */
export function resultError(
  result: CommandResult,
  what: string,
  failCode: ManagerErrorCode = 'COMMAND_FAILED',
  extraDetails: Record<string, unknown> = {},
): ManagerError | undefined {
  const details = { ...extraDetails, exitCode: result.exitCode, signal: result.signal, durationMs: result.durationMs };
  if (result.aborted) return new ManagerError('COMMAND_CANCELLED', `${what} was cancelled`, { details });
  if (result.timedOut) return new ManagerError('COMMAND_TIMEOUT', `${what} did not finish within its time limit (${result.durationMs} ms)`, { details });
  if (result.exitCode === 0) return undefined;
  const status = result.exitCode === null ? `killed by ${result.signal ?? 'a signal'}` : `exit status ${result.exitCode}`;
  const marked = (text: string) => text.split('\n').some(isErrorLine);
  const output = marked(result.stderr) ? result.stderr : marked(result.stdout) ? result.stdout : result.stderr.trim() !== '' ? result.stderr : result.stdout;
  return new ManagerError(failCode, redactUrls(messageWithOutput(`${what} failed (${status})`, output)), { details });
}
