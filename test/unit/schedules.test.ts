import test from 'ava';
import { InvalidInputError } from '../../src/domain/errors.ts';
import {
  canonicalTimezone, cronOf, missedWindow, parseIsoInstant, parseSchedule, parseWindow, planSchedule, slotAt, windowStatus,
  type MaintenanceWindow,
} from '../../src/domain/schedules.ts';

const MIN = 60_000;
const at = (iso: string) => Date.parse(iso);

function window(schedule: MaintenanceWindow['schedule'], durationMinutes: number, timezone = 'UTC', name = 'w'): MaintenanceWindow {
  return { name, schedule, durationMinutes, timezone, userId: 'admin', createdAt: 0, updatedAt: 0 };
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidInputError) return err.code;
    throw err;
  }
  return undefined;
}

// ---------------------------------------------------------------- request fields

test('deliverAfter takes ISO 8601 times with Z or an offset, and refuses the rest', (t) => {
  t.is(parseIsoInstant('2026-05-01T02:00:00Z'), at('2026-05-01T02:00:00Z'));
  t.is(parseIsoInstant('2026-05-01T04:00+02:00'), at('2026-05-01T02:00:00Z'));
  t.is(parseIsoInstant('2026-05-01T04:00:00.250+0200'), at('2026-05-01T02:00:00.250Z'));
  for (const bad of ['2026-05-01T02:00:00', '2026-05-01', 'tomorrow', '2026-02-30T00:00:00Z', '2026-13-01T00:00:00Z', '2026-05-01T24:00:00Z', '2026-05-01T02:00:00+25:00', '']) {
    t.is(parseIsoInstant(bad), undefined, bad);
  }
});

test('parseSchedule checks each field and answers undefined when none is given', (t) => {
  const now = at('2026-05-01T00:00:00Z');
  t.is(parseSchedule({}, now), undefined);
  t.deepEqual(parseSchedule({ deliverAfter: '2026-05-02T00:00:00Z', deliverDelayWindowMinutes: 30, window: 'night' }, now), {
    deliverAfter: at('2026-05-02T00:00:00Z'), deliverDelayWindowMinutes: 30, window: 'night',
  });
  t.deepEqual(parseSchedule({ deliverDelayWindowMinutes: 0 }, now), { deliverDelayWindowMinutes: 0 });
  t.is(code(() => parseSchedule({ deliverAfter: 'next week' }, now)), 'INVALID_DELIVER_AFTER');
  t.is(code(() => parseSchedule({ deliverAfter: 1_777_000_000_000 }, now)), 'INVALID_DELIVER_AFTER');
  t.is(code(() => parseSchedule({ deliverAfter: '2028-05-02T00:00:00Z' }, now)), 'INVALID_DELIVER_AFTER', 'more than a year ahead');
  for (const bad of [-1, 1.5, 10_081, '30', null]) t.is(code(() => parseSchedule({ deliverDelayWindowMinutes: bad }, now)), 'INVALID_DELAY_WINDOW', String(bad));
  for (const bad of ['', '-x', 'a b', 'x'.repeat(65), 3]) t.is(code(() => parseSchedule({ window: bad }, now)), 'INVALID_WINDOW_NAME', String(bad));
});

// ---------------------------------------------------------------- windows

test('a window body is checked: schedule forms, duration range, time zone, and a schedule that never opens', (t) => {
  const now = at('2026-05-01T00:00:00Z');
  const w = parseWindow('weekend', { schedule: { days: ['SUN', 'sat'], time: '02:00' }, durationMinutes: 120, timezone: 'europe/rome' }, 'admin', now);
  t.deepEqual(w.schedule, { days: ['sun', 'sat'], time: '02:00' });
  t.is(cronOf(w.schedule), '0 2 * * 0,6');
  t.is(w.timezone, 'Europe/Rome', 'the canonical IANA name');
  t.is(parseWindow('cron', { schedule: '  30   1 * * 1-5 ', durationMinutes: 1, timezone: 'UTC' }, 'admin', now).schedule, '30 1 * * 1-5');
  const earlier = { ...w, createdAt: 5 };
  t.is(parseWindow('weekend', { schedule: '0 3 * * *', durationMinutes: 60, timezone: 'UTC' }, 'other', now, earlier).createdAt, 5, 'a replaced window keeps its creation time');

  const bad = (body: unknown, name = 'x') => code(() => parseWindow(name, body, 'admin', now));
  t.is(bad({ schedule: '0 2 * * *', durationMinutes: 60, timezone: 'UTC' }, 'no spaces'), 'INVALID_WINDOW_NAME');
  t.is(bad(['x']), 'INVALID_BODY');
  t.is(bad({ schedule: '0 0 2 * * *', durationMinutes: 60, timezone: 'UTC' }), 'INVALID_WINDOW_SCHEDULE', 'six fields');
  t.is(bad({ schedule: '61 * * * *', durationMinutes: 60, timezone: 'UTC' }), 'INVALID_WINDOW_SCHEDULE');
  t.is(bad({ schedule: { days: ['someday'], time: '02:00' }, durationMinutes: 60, timezone: 'UTC' }), 'INVALID_WINDOW_SCHEDULE');
  t.is(bad({ schedule: { days: [], time: '02:00' }, durationMinutes: 60, timezone: 'UTC' }), 'INVALID_WINDOW_SCHEDULE');
  t.is(bad({ schedule: { days: ['mon'], time: '24:00' }, durationMinutes: 60, timezone: 'UTC' }), 'INVALID_WINDOW_SCHEDULE');
  t.is(bad({ schedule: 42, durationMinutes: 60, timezone: 'UTC' }), 'INVALID_WINDOW_SCHEDULE');
  for (const d of [0, 10_081, 1.5, '60', undefined]) t.is(bad({ schedule: '0 2 * * *', durationMinutes: d, timezone: 'UTC' }), 'INVALID_WINDOW_DURATION', String(d));
  t.is(bad({ schedule: '0 2 * * *', durationMinutes: 60, timezone: 'Mars/Olympus' }), 'UNKNOWN_TIMEZONE');
  t.is(bad({ schedule: '0 2 * * *', durationMinutes: 60 }), 'UNKNOWN_TIMEZONE');
  t.is(bad({ schedule: '0 0 30 2 *', durationMinutes: 60, timezone: 'UTC' }), 'WINDOW_NEVER_OPENS', '30 February');
  t.is(canonicalTimezone('UTC'), 'UTC');
});

test('slotAt answers the opening in progress, or else the next one, for cron and weekly forms', (t) => {
  const nightly = window('0 2 * * *', 60);
  t.deepEqual(slotAt(nightly, at('2026-05-01T01:00:00Z')), { opensAt: at('2026-05-01T02:00:00Z'), closesAt: at('2026-05-01T03:00:00Z') });
  t.deepEqual(slotAt(nightly, at('2026-05-01T02:00:00Z')), { opensAt: at('2026-05-01T02:00:00Z'), closesAt: at('2026-05-01T03:00:00Z') }, 'open from its first moment');
  t.deepEqual(slotAt(nightly, at('2026-05-01T02:59:59.999Z')), { opensAt: at('2026-05-01T02:00:00Z'), closesAt: at('2026-05-01T03:00:00Z') });
  t.deepEqual(slotAt(nightly, at('2026-05-01T03:00:00Z')), { opensAt: at('2026-05-02T02:00:00Z'), closesAt: at('2026-05-02T03:00:00Z') }, 'closed at its close');
  // 2026-05-01 is a Friday: the weekend window opens Saturday 02:00 in Rome (00:00 UTC, summer time) for 2 h.
  const weekend = window({ days: ['sat', 'sun'], time: '02:00' }, 120, 'Europe/Rome');
  t.deepEqual(slotAt(weekend, at('2026-05-01T12:00:00Z')), { opensAt: at('2026-05-02T00:00:00Z'), closesAt: at('2026-05-02T02:00:00Z') });
  t.deepEqual(slotAt(weekend, at('2026-05-02T02:00:00Z')), { opensAt: at('2026-05-03T00:00:00Z'), closesAt: at('2026-05-03T02:00:00Z') });
  t.deepEqual(slotAt(weekend, at('2026-05-03T02:00:00Z')), { opensAt: at('2026-05-09T00:00:00Z'), closesAt: at('2026-05-09T02:00:00Z') });
  t.is(slotAt(window('0 0 30 2 *', 60), at('2026-05-01T00:00:00Z')), undefined);
});

test('a window keeps its local opening time across a DST change, and lasts its minutes of real time', (t) => {
  // Europe/Berlin goes from UTC+1 to UTC+2 on 2026-03-29 at 02:00 local.
  const daily = window('0 1 * * *', 180, 'Europe/Berlin');
  t.deepEqual(slotAt(daily, at('2026-03-28T12:00:00Z')), { opensAt: at('2026-03-29T00:00:00Z'), closesAt: at('2026-03-29T03:00:00Z') }, '01:00 CET');
  t.deepEqual(slotAt(daily, at('2026-03-29T12:00:00Z')), { opensAt: at('2026-03-29T23:00:00Z'), closesAt: at('2026-03-30T02:00:00Z') }, '01:00 CEST');
  // An opening time the change skips (02:30 does not exist that night) opens at the first moment after the gap.
  const skipped = window('30 2 * * *', 30, 'Europe/Berlin');
  t.is(slotAt(skipped, at('2026-03-28T12:00:00Z'))?.opensAt, at('2026-03-29T01:00:00Z'));
  // Back to winter time on 2026-10-25: 02:30 happens twice; the window opens once.
  const openings = [];
  let from = at('2026-10-24T12:00:00Z');
  for (let i = 0; i < 2; i++) {
    const slot = slotAt(skipped, from)!;
    openings.push(new Date(slot.opensAt).toISOString());
    from = slot.closesAt;
  }
  t.deepEqual(openings, ['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
});

test('windowStatus tells whether the window is open now, until when, and its next opening', (t) => {
  const nightly = window('0 2 * * *', 60);
  t.deepEqual(windowStatus(nightly, at('2026-05-01T02:30:00Z')), {
    open: true, openUntil: at('2026-05-01T03:00:00Z'), nextOpening: at('2026-05-02T02:00:00Z'), nextClosing: at('2026-05-02T03:00:00Z'),
  });
  t.deepEqual(windowStatus(nightly, at('2026-05-01T04:00:00Z')), { open: false, nextOpening: at('2026-05-02T02:00:00Z'), nextClosing: at('2026-05-02T03:00:00Z') });
  t.deepEqual(windowStatus(window('0 0 30 2 *', 60), 0), { open: false });
});

// ---------------------------------------------------------------- planning

test('planSchedule: a deliverAfter ahead is the start, one in the past means now, and the random delay spreads it', (t) => {
  const now = at('2026-05-01T00:00:00Z');
  t.deepEqual(planSchedule({ deliverAfter: now + 5_000 }, undefined, now, () => 0.9), { notBefore: now + 5_000, deliverAfter: now + 5_000 });
  t.deepEqual(planSchedule({ deliverAfter: now - 86_400_000 }, undefined, now), { notBefore: now, deliverAfter: now - 86_400_000 });
  const spread = planSchedule({ deliverAfter: now + MIN, deliverDelayWindowMinutes: 10 }, undefined, now, () => 0.5);
  t.is(spread.notBefore, now + MIN + 5 * MIN);
  t.is(planSchedule({ deliverDelayWindowMinutes: 10 }, undefined, now, () => 0.999999).notBefore < now + 10 * MIN, true);
  t.is(planSchedule({ deliverDelayWindowMinutes: 10 }, undefined, now, () => 0).notBefore, now);
});

test('planSchedule with a window: the first moment it is open at or after the base, the delay kept inside the opening', (t) => {
  const nightly = window('0 2 * * *', 60, 'UTC', 'nightly');
  const now = at('2026-05-01T00:00:00Z');
  t.deepEqual(planSchedule({ window: 'nightly' }, nightly, now, () => 0.5), {
    notBefore: at('2026-05-01T02:00:00Z'), notAfter: at('2026-05-01T03:00:00Z'), window: 'nightly',
  });
  // Open now: it may start now.
  t.is(planSchedule({ window: 'nightly' }, nightly, at('2026-05-01T02:30:00Z')).notBefore, at('2026-05-01T02:30:00Z'));
  // deliverAfter past tonight's opening: tomorrow's.
  t.deepEqual(planSchedule({ deliverAfter: at('2026-05-01T03:00:00Z'), window: 'nightly' }, nightly, now, () => 0), {
    notBefore: at('2026-05-02T02:00:00Z'), notAfter: at('2026-05-02T03:00:00Z'), window: 'nightly', deliverAfter: at('2026-05-01T03:00:00Z'),
  });
  // A delay of a whole day is drawn within the hour the window is open, so the operation still starts inside it.
  const late = planSchedule({ deliverDelayWindowMinutes: 1440, window: 'nightly' }, nightly, now, () => 0.999999);
  t.true(late.notBefore >= at('2026-05-01T02:00:00Z') && late.notBefore < late.notAfter!, new Date(late.notBefore).toISOString());
  t.is(planSchedule({ deliverDelayWindowMinutes: 30, window: 'nightly' }, nightly, now, () => 0.5).notBefore, at('2026-05-01T02:15:00Z'));
  t.is(code(() => planSchedule({ window: 'never' }, window('0 0 30 2 *', 60, 'UTC', 'never'), now)), 'WINDOW_NEVER_OPENS');
});

test('an operation that missed its opening is planned in the next one', (t) => {
  const nightly = window('0 2 * * *', 60, 'UTC', 'nightly');
  const first = planSchedule({ window: 'nightly' }, nightly, at('2026-05-01T00:00:00Z'));
  t.false(missedWindow(first, at('2026-05-01T02:59:00Z')));
  t.true(missedWindow(first, at('2026-05-01T03:00:00Z')));
  t.false(missedWindow({}, at('2030-01-01T00:00:00Z')), 'without a window nothing is missed');
  // The service was down for two days: the next opening after now, not the one after the missed one.
  const moved = planSchedule({ window: 'nightly' }, nightly, at('2026-05-03T10:00:00Z'));
  t.deepEqual([moved.notBefore, moved.notAfter], [at('2026-05-04T02:00:00Z'), at('2026-05-04T03:00:00Z')]);
});
