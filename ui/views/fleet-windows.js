// @ts-check
import { ApiError } from '../lib/api.js';
import { confirmAction } from '../lib/dialog.js';
import { formatTime, h, newId, plural, replace, whileBusy } from '../lib/dom.js';

/**
 * @typedef {'sun' | 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat'} Weekday
 * @typedef {string | { days: Weekday[], time: string }} WindowSchedule
 * @typedef {{
 *   name: string, schedule: WindowSchedule, cron: string, durationMinutes: number, timezone: string, userId: string,
 *   open: boolean, openUntil?: number, nextOpening?: number, nextClosing?: number,
 * }} WindowView
 */

/** @type {[Weekday, string][]} */
const DAYS = [['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'], ['fri', 'Friday'], ['sat', 'Saturday'], ['sun', 'Sunday']];
/** Offered in the time zone's datalist; any IANA name is taken. */
const COMMON_ZONES = ['UTC', 'Europe/Rome', 'Europe/London', 'Europe/Paris', 'Europe/Berlin', 'Europe/Madrid', 'Europe/Athens', 'Europe/Lisbon',
  'Africa/Nairobi', 'Africa/Lagos', 'Africa/Johannesburg', 'America/New_York', 'America/Chicago', 'America/Denver', 'America/Los_Angeles',
  'America/Sao_Paulo', 'Asia/Kolkata', 'Asia/Shanghai', 'Asia/Tokyo', 'Asia/Singapore', 'Australia/Sydney'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_MINUTES = 10_080;

/** "Saturday and Sunday at 02:00", or the cron text. @param {WindowSchedule} s */
export function describeSchedule(s) {
  if (typeof s === 'string') return `cron ${s}`;
  const names = DAYS.filter(([d]) => s.days.includes(d)).map(([, n]) => n);
  const days = names.length === 7 ? 'Every day' : names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
  return `${days} at ${s.time}`;
}

/** "2 h", "90 min", "1 day 2 h". @param {number} m */
function describeMinutes(m) {
  const d = Math.floor(m / 1440);
  const hours = Math.floor((m % 1440) / 60);
  const min = m % 60;
  return [d ? plural(d, 'day') : '', hours ? `${hours} h` : '', min ? `${min} min` : ''].filter(Boolean).join(' ') || '0 min';
}

/** A time in the viewer's zone, and in the window's when it differs. @param {number} ms @param {string} zone */
function bothZones(ms, zone) {
  const mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const local = h('time', { datetime: new Date(ms).toISOString() }, formatTime(ms));
  if (mine === zone) return h('span', { class: 'when' }, local, h('span', { class: 'pkg-extra' }, `${zone}, your time zone too`));
  const there = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short', timeZone: zone }).format(new Date(ms));
  return h('span', { class: 'when' }, local, h('span', { class: 'pkg-extra' }, `${there} ${zone}`));
}

/**
 * The maintenance windows (GET /windows): when each opens, for how long, in which zone, and whether it is open now.
 * Admins on the main node create, change and delete them; everyone else reads them.
 * @param {import('../app.js').PanelContext} ctx
 * @returns {import('./processor.js').Tab}
 */
export function renderFleetWindows(ctx) {
  const { api, me } = ctx;
  const canEdit = me.admin && me.mainNode;
  let disposed = false;
  /** @type {WindowView[]} */
  let list = [];

  /** @param {Event} ev @param {() => Promise<unknown>} action */
  const busy = (ev, action) => whileBusy(ev, action, (err) => ctx.notify(`That did not work: ${err.message}`, 'error'));
  const status = h('p', { class: 'summary', role: 'status', 'aria-live': 'polite' }, 'Reading the windows…');
  const rows = h('div', { class: 'windows' });
  const el = h('section', { class: 'fleet-windows-tab', 'aria-labelledby': 'fleet-windows-heading' },
    h('h2', { id: 'fleet-windows-heading', tabindex: '-1' }, 'Windows'),
    h('p', { class: 'help' }, 'A maintenance window opens at the times its schedule names, in its time zone, for its duration. A batch scheduled in a window starts its operations only while the window is open.',
      canEdit ? '' : me.mainNode ? ' Administrators define the windows.' : ' Windows are defined on the main node.'),
    canEdit ? h('div', { class: 'toolbar' }, h('button', {
      type: 'button', class: 'button button-primary', onclick: (/** @type {Event} */ ev) => busy(ev, () => edit(undefined)),
    }, 'New window…')) : null,
    status,
    rows);

  function render() {
    status.textContent = list.length ? `${plural(list.length, 'window')}.` : 'No maintenance window is defined.';
    if (list.length === 0) {
      rows.replaceChildren();
      return;
    }
    replace(rows, h('div', { class: 'table-wrap' }, h('table', { class: 'table windows-table' },
      h('caption', { class: 'visually-hidden' }, 'Maintenance windows'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Window'), h('th', { scope: 'col' }, 'Schedule'), h('th', { scope: 'col' }, 'Duration'), h('th', { scope: 'col' }, 'Now'),
        canEdit ? h('th', { scope: 'col' }, 'Actions') : null)),
      h('tbody', {}, list.map((w) => h('tr', { dataset: { window: w.name, open: String(w.open) } },
        h('th', { scope: 'row', 'data-label': 'Window' }, w.name, h('span', { class: 'pkg-extra' }, `by ${w.userId}`)),
        h('td', { 'data-label': 'Schedule' }, describeSchedule(w.schedule), h('span', { class: 'pkg-extra' }, w.timezone)),
        h('td', { 'data-label': 'Duration' }, describeMinutes(w.durationMinutes)),
        h('td', { 'data-label': 'Now', class: 'window-now' },
          w.open ? [h('span', { class: 'badge badge-done' }, 'open'), w.openUntil ?? w.nextClosing ? ' until ' : '', w.openUntil ?? w.nextClosing ? bothZones(/** @type {number} */ (w.openUntil ?? w.nextClosing), w.timezone) : '']
            : w.nextOpening !== undefined ? [h('span', { class: 'badge badge-stopped' }, 'closed'), ' next opens ', bothZones(w.nextOpening, w.timezone)]
              : [h('span', { class: 'badge badge-stopped' }, 'closed'), ' never opens again']),
        canEdit ? h('td', { 'data-label': 'Actions' }, h('div', { class: 'row-actions' },
          h('button', { type: 'button', class: 'button button-small', 'aria-label': `Edit ${w.name}…`, onclick: (/** @type {Event} */ ev) => busy(ev, () => edit(w)) }, 'Edit…'),
          h('button', { type: 'button', class: 'button button-small button-danger', 'aria-label': `Delete ${w.name}…`, onclick: (/** @type {Event} */ ev) => busy(ev, () => remove(w)) }, 'Delete…'))) : null))))));
  }

  /** Creates a window (none given) or changes one, in a dialog. @param {WindowView | undefined} w */
  async function edit(w) {
    const nameId = newId('window-name');
    const name = h('input', { id: nameId, autocomplete: 'off', maxlength: '64', required: true, value: w?.name ?? '', readonly: Boolean(w) });
    const kindName = newId('window-kind');
    const weeklyId = newId('window-weekly');
    const cronId = newId('window-cron-kind');
    const weekly = h('input', { id: weeklyId, type: 'radio', name: kindName, value: 'weekly' });
    const cronKind = h('input', { id: cronId, type: 'radio', name: kindName, value: 'cron' });
    const isCron = typeof w?.schedule === 'string';
    weekly.checked = !isCron;
    cronKind.checked = isCron;
    const current = w && typeof w.schedule !== 'string' ? w.schedule : { days: /** @type {Weekday[]} */ (['sat']), time: '02:00' };
    const dayBoxes = DAYS.map(([d, label]) => {
      const id = newId('window-day');
      const box = h('input', { id, type: 'checkbox', value: d });
      box.checked = current.days.includes(d);
      return { box, el: h('li', { class: 'choice' }, box, h('label', { for: id }, label)) };
    });
    const timeId = newId('window-time');
    const time = h('input', { id: timeId, type: 'time', required: true, value: current.time });
    const cronTextId = newId('window-cron');
    const cron = h('input', { id: cronTextId, autocomplete: 'off', maxlength: '100', placeholder: '0 2 * * 6', value: typeof w?.schedule === 'string' ? w.schedule : '', spellcheck: 'false' });
    const durationId = newId('window-duration');
    const duration = h('input', { id: durationId, type: 'number', min: '1', max: String(MAX_MINUTES), step: '1', required: true, value: String(w?.durationMinutes ?? 120) });
    const zoneId = newId('window-zone');
    const listId = newId('window-zones');
    const zone = h('input', { id: zoneId, autocomplete: 'off', list: listId, required: true, value: w?.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone, spellcheck: 'false' });
    const weeklyPart = h('div', { class: 'window-weekly' },
      h('fieldset', { class: 'choices' }, h('legend', {}, 'Days'), h('ul', { class: 'choice-list choice-days' }, dayBoxes.map((b) => b.el))),
      h('div', { class: 'field' }, h('label', { for: timeId }, 'Opens at'), time));
    const cronPart = h('div', { class: 'field' }, h('label', { for: cronTextId }, 'Cron (minute hour day-of-month month day-of-week)'), cron);
    const show = () => {
      weeklyPart.hidden = !weekly.checked;
      cronPart.hidden = !cronKind.checked;
    };
    weekly.addEventListener('change', show);
    cronKind.addEventListener('change', show);
    show();
    const yes = await confirmAction({
      title: w ? `Change the window ${w.name}` : 'New maintenance window',
      body: [
        h('div', { class: 'field' }, h('label', { for: nameId }, 'Name'), name),
        h('fieldset', { class: 'choices' }, h('legend', {}, 'Schedule'), h('ul', { class: 'choice-list' },
          h('li', { class: 'choice' }, weekly, h('label', { for: weeklyId }, 'Weekly: days and a time')),
          h('li', { class: 'choice' }, cronKind, h('label', { for: cronId }, 'Cron expression')))),
        weeklyPart, cronPart,
        h('div', { class: 'field' }, h('label', { for: durationId }, 'Duration (minutes)'), duration),
        h('div', { class: 'field' }, h('label', { for: zoneId }, 'Time zone'), zone,
          h('datalist', { id: listId }, COMMON_ZONES.map((z) => h('option', { value: z })))),
        w ? 'Operations waiting for this window are planned again for its new times.' : '',
      ].filter(Boolean),
      check: () => {
        if (!NAME.test(name.value.trim())) return 'The name is 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit.';
        if (weekly.checked && !dayBoxes.some((b) => b.box.checked)) return 'Choose at least one day.';
        if (weekly.checked && !/^\d\d:\d\d$/.test(time.value)) return 'Give the time it opens.';
        if (cronKind.checked && cron.value.trim().split(/\s+/).length !== 5) return 'A cron expression has five fields: minute hour day-of-month month day-of-week.';
        const n = Number(duration.value);
        if (!Number.isInteger(n) || n < 1 || n > MAX_MINUTES) return `The duration is a whole number of minutes from 1 to ${MAX_MINUTES} (a week).`;
        if (zone.value.trim() === '') return 'Give the time zone, such as Europe/Rome or UTC.';
        return null;
      },
      confirm: w ? 'Save' : 'Create', danger: false,
    });
    if (!yes || disposed) return;
    const schedule = weekly.checked
      ? { days: dayBoxes.filter((b) => b.box.checked).map((b) => b.box.value), time: time.value }
      : cron.value.trim().replace(/\s+/g, ' ');
    const saved = await api.request('PUT', `/windows/${encodeURIComponent(name.value.trim())}`, {
      body: { schedule, durationMinutes: Number(duration.value), timezone: zone.value.trim() },
    });
    ctx.notify(`The window ${saved.name} is ${w ? 'saved' : 'created'}.`, 'success');
    await load();
  }

  /** @param {WindowView} w */
  async function remove(w) {
    const yes = await confirmAction({
      title: `Delete the window ${w.name}?`,
      body: ['Batches can no longer be scheduled in it. A window that queued operations still wait for cannot be deleted.'],
      confirm: 'Delete the window',
    });
    if (!yes || disposed) return;
    try {
      await api.request('DELETE', `/windows/${encodeURIComponent(w.name)}`);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'WINDOW_IN_USE') {
        const n = Array.isArray(err.details?.operations) ? err.details.operations.length : 0;
        ctx.notify(`${w.name} is not deleted: ${n ? plural(n, 'queued operation') : 'queued operations'} still wait for it. Cancel them (Fleet › Batches) or let them run, then delete it.`, 'error');
        return;
      }
      throw err;
    }
    ctx.notify(`The window ${w.name} is deleted.`, 'success');
    await load();
  }

  async function load() {
    try {
      list = await api.get('/windows');
      if (!disposed) render();
    } catch (err) {
      status.textContent = `The windows cannot be read: ${/** @type {Error} */ (err).message}`;
    }
  }

  // Open and next opening move with the clock: read again each minute.
  const timer = setInterval(() => load().catch(() => undefined), 60_000);
  load().catch(() => undefined);

  return {
    el,
    refresh: () => {
      load().catch(() => undefined);
    },
    dispose() {
      disposed = true;
      clearInterval(timer);
    },
  };
}
