/**
 * procenv's events: one journal of every change a client may want to follow, with increasing ids. The SSE stream,
 * the panel, metrics and the RabbitMQ bridge read it; nothing else is a source of events.
 */
export const EVENT_TYPES = [
  /** An operation was stored CREATED: `operation`, `position` (operations of the processor ahead of it). */
  'operation.queued',
  /** A worker took it: `operation`. */
  'operation.running',
  /** A command of a RUNNING operation started or finished: `index`, `count`, `command`, `phase`, `ok`, `error`. */
  'operation.command',
  /** `progressPerc` */
  'operation.progress',
  /** Log lines of a RUNNING operation, as stored: `lines` [{ seq, t, stream, line }]. */
  'operation.log',
  /** DONE, ERROR or STOPPED: `operation` (with `error`, `durationMs`, `appliedCount`). */
  'operation.ended',
  /** Its worker died before anything ran; it waits in the queue again: `operation`. */
  'operation.requeued',
  /** A scheduled operation missed its window's opening (or its window changed) and is planned anew: `operation` (its new `notBefore`, `notAfter`), `reason`. */
  'operation.rescheduled',
  /** A cancel of a RUNNING operation was asked; its worker ends it: `operation`. */
  'operation.cancelRequested',
  /** Main node: a compute node's delivery of an operation changed state: `nodeCode`, `state`, `attempts`, `lastError`. */
  'delivery.changed',
  /** The processor's packagesInfo.json changed: `source` 'operation' | 'disk'. */
  'packages.changed',
  /** A new generation of the processor's environment was recorded: `generation` (its summary, without packages). */
  'generation.recorded',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** An event before the journal gave it an id. */
export interface EventDraft {
  type: EventType;
  /** ms since the epoch */
  at: number;
  processor: string;
  operationId?: string;
  /** The fields of its kind. */
  data: Record<string, unknown>;
}

/** An event as journaled and sent: `{ id, type, at, processor, operationId?, ...fields }`. */
export interface ProcenvEvent {
  id: number;
  type: EventType;
  at: number;
  processor: string;
  operationId?: string;
  [field: string]: unknown;
}

export function eventOf(id: number, draft: EventDraft): ProcenvEvent {
  return { ...draft.data, id, type: draft.type, at: draft.at, processor: draft.processor, ...(draft.operationId ? { operationId: draft.operationId } : {}) };
}
