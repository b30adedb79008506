import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError } from '../domain/errors.ts';
import { isFinal, OPERATION_STATUSES, type Operation, type OperationLogLine, type OperationStatus } from '../domain/operation.ts';
import type { ScheduleRequest } from '../domain/schedules.ts';
import type { Caller } from '../domain/user.ts';
import type { Lifecycle } from '../lifecycle/lifecycle.ts';
import type { OperationWorker } from '../queue/worker.ts';
import type { OperationFilter, Store } from '../store/types.ts';
import type { EnvironmentService } from './environments.ts';

export { viewOf, type OperationView } from '../domain/operation.ts';

export interface ListQuery {
  processor?: string;
  status?: OperationStatus[];
  user?: string;
  since?: number;
  until?: number;
  limit: number;
  offset: number;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/**
 * A key is the caller's own: stored as `<userId, percent-encoded>:<key>`. The encoded user id holds no `:`, so the
 * first `:` ends it and no (user, key) pair can be spelt like another (`x` + `y:z` against `x:y` + `z`). A user id
 * without reserved characters encodes to itself, so keys stored before keep working.
 */
export function scopeIdempotencyKey(userId: string, key: string): string {
  return `${encodeURIComponent(userId)}:${key}`;
}

/**
 * procenv's own operation API: follow an operation by id, its log, the structured history, several commands in
 * one request, idempotency keys, cancel. Read permission on the processor to see, write permission to change.
 */
export class OperationService {
  constructor(private readonly store: Store, private readonly lifecycle: Lifecycle, private readonly environments: EnvironmentService, private readonly worker?: OperationWorker) {}

  async get(caller: Caller, processObjId: string): Promise<Operation> {
    const op = await this.store.findOperation(processObjId);
    if (!op) throw new NotFoundError('OPERATION_NOT_FOUND', `no operation "${processObjId.slice(0, 80)}"`);
    try {
      await this.environments.processorForRead(caller, op.productName);
    } catch (err) {
      // The processor may be gone; its operations stay visible to their requester and to admins.
      if (!(err instanceof ForbiddenError) || !(caller.admin || op.userId === caller.userId)) throw err;
    }
    return op;
  }

  /** Main node: the per-node results of an operation's fan-out. */
  async deliveriesOf(processObjId: string) {
    return (await this.store.listDeliveries({ operationId: processObjId })).map((d) => ({
      nodeCode: d.nodeCode, state: d.state, attempts: d.attempts, updatedAt: d.updatedAt,
      ...(d.lastError ? { lastError: d.lastError } : {}), ...(d.remoteOperationId ? { remoteOperationId: d.remoteOperationId } : {}),
    }));
  }

  async list(caller: Caller, query: ListQuery): Promise<Operation[]> {
    const filter: OperationFilter = { limit: query.limit, offset: query.offset };
    if (query.status?.length) filter.status = query.status;
    if (query.user !== undefined) filter.userId = query.user;
    if (query.since !== undefined) filter.since = query.since;
    if (query.until !== undefined) filter.until = query.until;
    if (query.processor !== undefined) {
      await this.environments.processorForRead(caller, query.processor);
      filter.processorName = query.processor;
    } else if (!caller.admin) {
      const readable: string[] = [];
      for (const p of await this.store.listProcessors()) {
        if (await this.environments.processorForRead(caller, p.name).then(() => true, () => false)) readable.push(p.name);
      }
      filter.processorName = readable;
    }
    return this.store.listOperations(filter);
  }

  async log(caller: Caller, processObjId: string, afterSeq: number, limit: number): Promise<OperationLogLine[]> {
    await this.get(caller, processObjId);
    return this.store.readOperationLog(processObjId, { afterSeq, limit });
  }

  /** Several commands as one operation; a repeated Idempotency-Key answers the first operation. */
  async submit(caller: Caller, processorName: string, commands: string[], workspace: string, idempotencyKey?: string,
    options: { rollbackOnFailure?: boolean; schedule?: ScheduleRequest } = {}): Promise<{ operation: Operation; created: boolean }> {
    const processor = await this.environments.processorForRead(caller, processorName);
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new InvalidInputError('INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1 to 200 visible ASCII characters');
    }
    const scopedKey = idempotencyKey === undefined ? undefined : scopeIdempotencyKey(caller.userId, idempotencyKey);
    const result = await this.environments.requestUpdate(caller, {
      processorId: processor.processorId, workspace, updateCommands: commands, ...(scopedKey ? { idempotencyKey: scopedKey } : {}),
      ...(options.rollbackOnFailure ? { rollbackOnFailure: true } : {}),
      ...(options.schedule ? { schedule: options.schedule } : {}),
    });
    if (!result.created && result.operation.processorId !== processor.processorId) {
      throw new ConflictError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was already used for another processor');
    }
    return result;
  }

  /** A queued operation ends STOPPED at once; a running one has its processes killed and then ends STOPPED. */
  async cancel(caller: Caller, processObjId: string): Promise<Operation> {
    const op = await this.get(caller, processObjId);
    const processor = await this.store.findProcessorById(op.processorId);
    if (processor) await this.environments.processorForWrite(caller, processor);
    else if (!caller.admin && op.userId !== caller.userId) throw new ForbiddenError('PROCESSOR_NOT_WRITABLE', 'you cannot cancel this operation');
    if (isFinal(op.status)) throw new ConflictError('OPERATION_FINISHED', `the operation already ended ${op.status}`);
    const stopped = await this.lifecycle.cancelQueued(op, caller.userId);
    if (stopped) return stopped;
    const running = await this.lifecycle.cancelRequested(op);
    if (!running) {
      const now2 = await this.store.findOperation(processObjId);
      if (now2 && isFinal(now2.status)) throw new ConflictError('OPERATION_FINISHED', `the operation already ended ${now2.status}`);
      return now2 ?? op;
    }
    this.worker?.cancel(processObjId);
    return running;
  }

  /** The structured history of a processor: ended operations, newest first. */
  async history(caller: Caller, processorName: string, query: Omit<ListQuery, 'processor'>): Promise<Operation[]> {
    await this.environments.processorForRead(caller, processorName);
    const status = query.status?.length ? query.status.filter(isFinal) : OPERATION_STATUSES.filter(isFinal);
    return this.store.listOperations({
      processorName, status, limit: query.limit, offset: query.offset,
      ...(query.user !== undefined ? { userId: query.user } : {}),
      ...(query.since !== undefined ? { since: query.since } : {}),
      ...(query.until !== undefined ? { until: query.until } : {}),
    });
  }
}
