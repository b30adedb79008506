import type { Logger } from 'pino';
import { ConflictError, ForbiddenError, NotFoundError, WrongNodeError } from '../domain/errors.ts';
import type { Operation } from '../domain/operation.ts';
import {
  cronOf, missedWindow, parseWindow, planSchedule, windowStatus, WINDOW_NAME, type MaintenanceWindow, type WindowStatus,
} from '../domain/schedules.ts';
import type { Caller } from '../domain/user.ts';
import type { Lifecycle } from '../lifecycle/lifecycle.ts';
import type { Store } from '../store/types.ts';

/** A window as the API shows it: as stored, its cron expression, and where it stands now. */
export type WindowView = MaintenanceWindow & WindowStatus & { cron: string };

/** How many missed operations one sweep moves at most (the next sweep takes the rest). */
const SWEEP_BATCH = 100;

/**
 * Maintenance windows (node-wide, on the main node: admins change them, any user reads them) and the scheduled
 * operations bound to them: one that missed its opening (the service was down through it, or its processor was
 * busy until it closed) is moved to the window's next opening, logged and journaled.
 */
export class ScheduleService {
  private readonly random: () => number;

  constructor(private readonly o: { store: Store; lifecycle: Lifecycle; log: Logger; nodeCode: string; isMainNode: boolean; random?: () => number }) {
    this.random = o.random ?? Math.random;
  }

  async list(_caller: Caller): Promise<WindowView[]> {
    const now = Date.now();
    return (await this.o.store.listWindows()).map((w) => viewOf(w, now));
  }

  async get(_caller: Caller, name: string): Promise<WindowView> {
    return viewOf(await this.require(name), Date.now());
  }

  /**
   * Creates or replaces a window (admins, main node). Operations already bound to it and still waiting are planned
   * anew against the new schedule, so that none starts outside the window as it is now.
   */
  async put(caller: Caller, name: string, body: unknown): Promise<{ window: WindowView; created: boolean; replanned: number }> {
    this.requireAdminOnMain(caller);
    const now = Date.now();
    const earlier = WINDOW_NAME.test(name) ? await this.o.store.findWindow(name) : undefined;
    const window = parseWindow(name, body, caller.userId, now, earlier);
    await this.o.store.saveWindow(window);
    let replanned = 0;
    if (earlier) {
      for (const op of await this.waitingOn(name)) if (await this.replan(op, window, now, 'window changed')) replanned++;
    }
    this.o.log.info({ window: name, cron: cronOf(window.schedule), timezone: window.timezone, durationMinutes: window.durationMinutes, replanned, userId: caller.userId },
      earlier ? 'maintenance window changed' : 'maintenance window created');
    return { window: viewOf(window, now), created: !earlier, replanned };
  }

  /** Deletes a window (admins, main node); 409 WINDOW_IN_USE while operations wait for it (cancel them first). */
  async remove(caller: Caller, name: string): Promise<void> {
    this.requireAdminOnMain(caller);
    await this.require(name);
    const waiting = await this.waitingOn(name);
    if (waiting.length) {
      throw new ConflictError('WINDOW_IN_USE', `${waiting.length} queued operation(s) wait for window "${name}"; cancel them or let them run first`, {
        details: { operations: waiting.slice(0, 20).map((op) => op.processObjId) },
      });
    }
    await this.o.store.removeWindow(name);
    this.o.log.info({ window: name, userId: caller.userId }, 'maintenance window deleted');
  }

  /**
   * Moves the scheduled operations of this node that missed their window's opening to its next one; answers how
   * many it moved. One whose window is gone, or never opens again, ends STOPPED with the reason.
   */
  async sweepMissed(now = Date.now()): Promise<number> {
    const missed = await this.o.store.listMissedOperations(this.o.nodeCode, now, SWEEP_BATCH);
    let moved = 0;
    const windows = new Map<string, MaintenanceWindow | undefined>();
    for (const op of missed) {
      if (!op.window) continue;
      if (!windows.has(op.window)) windows.set(op.window, await this.o.store.findWindow(op.window));
      const window = windows.get(op.window);
      if (!window) {
        const ended = await this.o.lifecycle.unschedulable(op, 'WINDOW_NOT_FOUND', `its maintenance window "${op.window}" no longer exists`);
        if (ended) this.o.log.warn({ operationId: op.processObjId, processor: op.productName, window: op.window }, 'scheduled operation stopped: its window is gone');
        continue;
      }
      if (await this.replan(op, window, now, 'window closed')) moved++;
    }
    return moved;
  }

  private async replan(op: Operation, window: MaintenanceWindow, now: number, reason: string): Promise<boolean> {
    if (!missedWindow(op, now) && reason === 'window closed') return false;
    let plan;
    try {
      plan = planSchedule({
        ...(op.deliverAfter !== undefined ? { deliverAfter: op.deliverAfter } : {}),
        ...(op.deliverDelayWindowMinutes !== undefined ? { deliverDelayWindowMinutes: op.deliverDelayWindowMinutes } : {}),
      }, window, now, this.random);
    } catch (err) {
      const ended = await this.o.lifecycle.unschedulable(op, 'WINDOW_NEVER_OPENS', (err as Error).message);
      if (ended) this.o.log.warn({ operationId: op.processObjId, processor: op.productName, window: window.name }, 'scheduled operation stopped: its window never opens again');
      return false;
    }
    const moved = await this.o.lifecycle.reschedule(op, plan, reason);
    if (moved) {
      this.o.log.info({ operationId: op.processObjId, processor: op.productName, window: window.name, reason, was: op.notBefore, notBefore: plan.notBefore, notAfter: plan.notAfter },
        'scheduled operation moved to the next opening of its window');
    }
    return moved !== undefined;
  }

  private async waitingOn(name: string): Promise<Operation[]> {
    return this.o.store.listOperations({ window: name, status: 'CREATED', limit: 10_000 });
  }

  private async require(name: string): Promise<MaintenanceWindow> {
    const window = WINDOW_NAME.test(name) ? await this.o.store.findWindow(name) : undefined;
    if (!window) throw new NotFoundError('WINDOW_NOT_FOUND', `no maintenance window "${name.slice(0, 80)}"`);
    return window;
  }

  private requireAdminOnMain(caller: Caller): void {
    if (!caller.admin) throw new ForbiddenError('ADMIN_ONLY', 'maintenance windows are node-wide: only administrators change them');
    if (!this.o.isMainNode) throw new WrongNodeError('MAIN_NODE_ONLY', 'maintenance windows are kept on the main node');
  }
}

function viewOf(window: MaintenanceWindow, now: number): WindowView {
  let status: WindowStatus;
  try {
    status = windowStatus(window, now);
  } catch {
    // A window stored by an older croner that this one no longer reads: shown, without times.
    status = { open: false };
  }
  return { ...window, cron: cronOf(window.schedule), ...status };
}
