import { Cron } from 'croner';
import { InvalidInputError } from './errors.ts';

/**
 * Scheduled operations and maintenance windows, as rules without I/O.
 *
 * A schedule asks that an operation start no earlier than `deliverAfter`, at a random moment within
 * `deliverDelayWindowMinutes` after it (Landscape's deliver_after / deliver_delay_window: a fleet is not changed all
 * at once), and only while the maintenance window `window` is open. The main node resolves it to concrete times
 * (`notBefore`, `notAfter`) when the operation is stored; the queue never claims it outside them.
 */

/** Landscape's limit is a week too; a longer spread is a different plan, not a delay. */
export const MAX_DELAY_WINDOW_MINUTES = 10_080;
/** A window lasts at most a week (1440 · 7 minutes). */
export const MAX_WINDOW_MINUTES = 10_080;
/** A deliverAfter further ahead than this is taken as a typo (a wrong year). */
export const MAX_DELIVER_AHEAD_MS = 366 * 86_400_000;

export const WINDOW_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** The weekly form of a window's schedule: these days, at this local time (`HH:MM`, 24 h). */
export interface WeeklySchedule {
  days: Weekday[];
  time: string;
}

/** A 5-field cron expression (minute hour day-of-month month day-of-week, croner's syntax) or the weekly form. */
export type WindowSchedule = string | WeeklySchedule;

/** A maintenance window: it opens at each time `schedule` names, in `timezone`, for `durationMinutes`. */
export interface MaintenanceWindow {
  name: string;
  schedule: WindowSchedule;
  durationMinutes: number;
  /** An IANA time zone, as Intl names it canonically. */
  timezone: string;
  userId: string;
  /** ms since the epoch */
  createdAt: number;
  updatedAt: number;
}

/** One opening of a window: from `opensAt` (inclusive) to `closesAt` (exclusive), ms since the epoch. */
export interface WindowSlot {
  opensAt: number;
  closesAt: number;
}

/** What a caller asks (the body fields, validated): the input of `planSchedule`. */
export interface ScheduleRequest {
  /** ms since the epoch */
  deliverAfter?: number;
  deliverDelayWindowMinutes?: number;
  window?: string;
}

/** What is stored on the operation: its planned start and, with a window, the moment it may no longer start. */
export interface PlannedSchedule {
  notBefore: number;
  notAfter?: number;
  window?: string;
  deliverAfter?: number;
  deliverDelayWindowMinutes?: number;
}

const ISO_WITH_OFFSET = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * An ISO 8601 time with a zone (`Z` or `±hh:mm`) as ms since the epoch; undefined when it is not one or names a
 * day or hour that does not exist (`Date.parse` would take 30 February as 2 March).
 */
export function parseIsoInstant(text: string): number | undefined {
  const m = ISO_WITH_OFFSET.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second = 0] = m.slice(1, 7).map((v) => (v === undefined ? 0 : Number(v))) as number[];
  if (month! < 1 || month! > 12 || hour! > 23 || minute! > 59 || second > 59) return undefined;
  const probe = new Date(Date.UTC(year!, month! - 1, day!));
  if (probe.getUTCDate() !== day || probe.getUTCMonth() !== month! - 1) return undefined;
  const offset = m[8]!.toUpperCase() === 'Z' ? '' : m[8]!;
  if (offset && Number(offset.replace(':', '').slice(1, 3)) > 23) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * The schedule fields of a request, checked: `deliverAfter` an ISO 8601 time with a zone, no more than a year ahead
 * (one in the past means "as soon as possible"); `deliverDelayWindowMinutes` an integer 0..10080; `window` a
 * window name (whether the window exists is the service's question). Answers undefined when none is given.
 * Throws InvalidInputError (400) with INVALID_DELIVER_AFTER, INVALID_DELAY_WINDOW or INVALID_WINDOW_NAME.
 */
export function parseSchedule(input: { deliverAfter?: unknown; deliverDelayWindowMinutes?: unknown; window?: unknown }, now = Date.now()): ScheduleRequest | undefined {
  const out: ScheduleRequest = {};
  if (input.deliverAfter !== undefined) {
    const at = typeof input.deliverAfter === 'string' && input.deliverAfter.length <= 40 ? parseIsoInstant(input.deliverAfter) : undefined;
    if (at === undefined) {
      throw new InvalidInputError('INVALID_DELIVER_AFTER', '"deliverAfter" must be an ISO 8601 time with a zone, such as 2026-05-01T02:00:00Z or 2026-05-01T04:00:00+02:00');
    }
    if (at - now > MAX_DELIVER_AHEAD_MS) throw new InvalidInputError('INVALID_DELIVER_AFTER', '"deliverAfter" is more than a year ahead');
    out.deliverAfter = at;
  }
  if (input.deliverDelayWindowMinutes !== undefined) {
    const minutes = input.deliverDelayWindowMinutes;
    if (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < 0 || minutes > MAX_DELAY_WINDOW_MINUTES) {
      throw new InvalidInputError('INVALID_DELAY_WINDOW', `"deliverDelayWindowMinutes" must be an integer from 0 to ${MAX_DELAY_WINDOW_MINUTES}`);
    }
    out.deliverDelayWindowMinutes = minutes;
  }
  if (input.window !== undefined) {
    if (typeof input.window !== 'string' || !WINDOW_NAME.test(input.window)) {
      throw new InvalidInputError('INVALID_WINDOW_NAME', '"window" must be a window name: 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit');
    }
    out.window = input.window;
  }
  return Object.keys(out).length ? out : undefined;
}

/** The canonical IANA name of a time zone; InvalidInputError UNKNOWN_TIMEZONE when Intl does not know it. */
export function canonicalTimezone(timezone: unknown): string {
  if (typeof timezone !== 'string' || timezone === '' || timezone.length > 64) {
    throw new InvalidInputError('UNKNOWN_TIMEZONE', '"timezone" must be an IANA time zone such as Europe/Rome or UTC');
  }
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: timezone }).resolvedOptions().timeZone;
  } catch {
    throw new InvalidInputError('UNKNOWN_TIMEZONE', `unknown time zone "${timezone}": give an IANA name such as Europe/Rome or UTC`);
  }
}

const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** The schedule of a window body, checked (cron: parsed by croner, 5 fields; weekly: known days, `HH:MM`). */
export function parseWindowSchedule(schedule: unknown): WindowSchedule {
  if (typeof schedule === 'string') {
    const pattern = schedule.trim().replace(/\s+/g, ' ');
    if (pattern === '' || pattern.length > 200) throw new InvalidInputError('INVALID_WINDOW_SCHEDULE', '"schedule" must be a 5-field cron expression or { "days": [...], "time": "HH:MM" }');
    try {
      // Parsing only: a Cron without a function starts no timer.
      new Cron(pattern, { mode: '5-part' });
    } catch (err) {
      throw new InvalidInputError('INVALID_WINDOW_SCHEDULE', `"schedule" is not a 5-field cron expression: ${(err as Error).message.slice(0, 200)}`, { cause: err });
    }
    return pattern;
  }
  if (schedule !== null && typeof schedule === 'object' && !Array.isArray(schedule)) {
    const { days, time } = schedule as { days?: unknown; time?: unknown };
    const valid = Array.isArray(days) && days.length > 0 && days.every((d) => typeof d === 'string' && (WEEKDAYS as readonly string[]).includes(d.toLowerCase()));
    if (!valid) throw new InvalidInputError('INVALID_WINDOW_SCHEDULE', `"schedule.days" must list days among ${WEEKDAYS.join(', ')}`);
    if (typeof time !== 'string' || !TIME.test(time)) throw new InvalidInputError('INVALID_WINDOW_SCHEDULE', '"schedule.time" must be a local time "HH:MM" (24 h)');
    const set = new Set((days as string[]).map((d) => d.toLowerCase() as Weekday));
    return { days: WEEKDAYS.filter((d) => set.has(d)), time };
  }
  throw new InvalidInputError('INVALID_WINDOW_SCHEDULE', '"schedule" must be a 5-field cron expression or { "days": ["sat", "sun"], "time": "02:00" }');
}

/** The cron expression a schedule stands for (the weekly form: `MM HH * * d,d`). */
export function cronOf(schedule: WindowSchedule): string {
  if (typeof schedule === 'string') return schedule;
  const [hh, mm] = schedule.time.split(':').map(Number);
  return `${mm} ${hh} * * ${schedule.days.map((d) => WEEKDAYS.indexOf(d)).join(',')}`;
}

function cronFor(window: Pick<MaintenanceWindow, 'schedule' | 'timezone'>): Cron {
  return new Cron(cronOf(window.schedule), { mode: '5-part', timezone: window.timezone });
}

/**
 * The window's opening that is open at `at`, or else the next one; undefined when it never opens again. An opening
 * lasts `durationMinutes` of real time, so across a DST change a window is as long as on any other day; a local
 * opening time the change skips (02:30 on the spring-forward night) opens at the first moment after the gap, as
 * croner answers it. Overlapping openings are not merged: the one that opened first is answered.
 */
export function slotAt(window: Pick<MaintenanceWindow, 'schedule' | 'timezone' | 'durationMinutes'>, at: number): WindowSlot | undefined {
  const duration = window.durationMinutes * 60_000;
  let next: Date | null;
  try {
    // The first opening after `at - duration`: if it is at or before `at`, the window is open at `at`.
    next = cronFor(window).nextRun(new Date(at - duration));
  } catch (err) {
    throw new InvalidInputError('WINDOW_UNCOMPUTABLE', `the next opening of the window cannot be computed: ${(err as Error).message.slice(0, 200)}`, { cause: err });
  }
  if (!next) return undefined;
  const opensAt = next.getTime();
  return { opensAt, closesAt: opensAt + duration };
}

/** Where a window stands at `now`: open (until when), and its next opening after `now` with its close. */
export interface WindowStatus {
  open: boolean;
  openUntil?: number;
  nextOpening?: number;
  nextClosing?: number;
}

export function windowStatus(window: Pick<MaintenanceWindow, 'schedule' | 'timezone' | 'durationMinutes'>, now: number): WindowStatus {
  const current = slotAt(window, now);
  if (!current) return { open: false };
  const open = current.opensAt <= now;
  let upcoming: WindowSlot | undefined = current;
  if (open) {
    // The opening after this one (it may open before this one closes, when openings are closer than the window lasts).
    const following = cronFor(window).nextRun(new Date(now));
    upcoming = following ? { opensAt: following.getTime(), closesAt: following.getTime() + window.durationMinutes * 60_000 } : undefined;
  }
  return {
    open,
    ...(open ? { openUntil: current.closesAt } : {}),
    ...(upcoming ? { nextOpening: upcoming.opensAt, nextClosing: upcoming.closesAt } : {}),
  };
}

/**
 * A window body (`PUT /windows/{name}`) checked and made into the window to store. Throws InvalidInputError (400):
 * INVALID_WINDOW_NAME, INVALID_BODY, INVALID_WINDOW_SCHEDULE, INVALID_WINDOW_DURATION, UNKNOWN_TIMEZONE, and
 * WINDOW_NEVER_OPENS for a schedule with no opening ahead (`0 0 30 2 *`).
 */
export function parseWindow(name: string, body: unknown, userId: string, now: number, earlier?: MaintenanceWindow): MaintenanceWindow {
  if (!WINDOW_NAME.test(name)) throw new InvalidInputError('INVALID_WINDOW_NAME', 'a window name is 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit');
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidInputError('INVALID_BODY', 'the body must be a JSON object: { "schedule", "durationMinutes", "timezone" }');
  }
  const b = body as Record<string, unknown>;
  const schedule = parseWindowSchedule(b.schedule);
  const minutes = b.durationMinutes;
  if (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < 1 || minutes > MAX_WINDOW_MINUTES) {
    throw new InvalidInputError('INVALID_WINDOW_DURATION', `"durationMinutes" must be an integer from 1 to ${MAX_WINDOW_MINUTES}`);
  }
  const timezone = canonicalTimezone(b.timezone);
  const window: MaintenanceWindow = {
    name, schedule, durationMinutes: minutes, timezone, userId, createdAt: earlier?.createdAt ?? now, updatedAt: now,
  };
  if (!slotAt(window, now)) throw new InvalidInputError('WINDOW_NEVER_OPENS', `the schedule "${cronOf(schedule)}" never opens again`);
  return window;
}

/**
 * When an operation may start. Past moments count as now: a `deliverAfter` in the past means "as soon as possible".
 * Without a window: `deliverAfter` (or now) plus a random delay of up to `deliverDelayWindowMinutes`. With a
 * window: the first moment at or after that base when the window is open (its current opening, or its next), plus
 * the random delay drawn within what is left of that opening, so that the operation still starts inside it; it may
 * not start from the opening's close (`notAfter`) on. Throws InvalidInputError WINDOW_NEVER_OPENS when the window
 * has no opening ahead.
 */
export function planSchedule(request: ScheduleRequest, window: MaintenanceWindow | undefined, now: number, random: () => number = Math.random): PlannedSchedule {
  const base = Math.max(now, request.deliverAfter ?? now);
  const delayMs = (request.deliverDelayWindowMinutes ?? 0) * 60_000;
  const kept = {
    ...(request.deliverAfter !== undefined ? { deliverAfter: request.deliverAfter } : {}),
    ...(request.deliverDelayWindowMinutes !== undefined ? { deliverDelayWindowMinutes: request.deliverDelayWindowMinutes } : {}),
  };
  if (!window) return { notBefore: base + Math.floor(random() * delayMs), ...kept };
  const slot = slotAt(window, base);
  if (!slot) throw new InvalidInputError('WINDOW_NEVER_OPENS', `window "${window.name}" never opens again`);
  const start = Math.max(base, slot.opensAt);
  const spread = Math.min(delayMs, slot.closesAt - start - 1);
  return { notBefore: start + Math.floor(random() * Math.max(0, spread)), notAfter: slot.closesAt, window: window.name, ...kept };
}

/** Whether a waiting operation bound to a window missed its opening (it may no longer start at `now`). */
export function missedWindow(op: { notAfter?: number }, now: number): boolean {
  return op.notAfter !== undefined && op.notAfter <= now;
}
