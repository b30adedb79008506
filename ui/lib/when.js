// @ts-check
import { h, newId } from './dom.js';

/**
 * @typedef {{ deliverAfter?: string, deliverDelayWindowMinutes?: number, window?: string }} BatchSchedule
 * @typedef {{ el: HTMLElement, check(): string | null, value(): BatchSchedule }} WhenPart
 */

/** procenv's limit on the spread (a week), as src/domain/schedules.ts has it. */
const MAX_SPREAD_MINUTES = 10_080;

/** `2026-12-02T14:30` (a datetime-local value, the browser's time) → ISO 8601 with the browser's offset. @param {string} local */
export function localToIso(local) {
  const d = new Date(local);
  if (Number.isNaN(d.getTime())) return '';
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const pad = (/** @type {number} */ n) => String(Math.abs(n)).padStart(2, '0');
  return `${local.length === 16 ? `${local}:00` : local}${sign}${pad(Math.trunc(off / 60))}:${pad(off % 60)}`;
}

/**
 * The "When" part of a batch's confirmation: now (the default), after a date and time (deliverAfter), or in a
 * maintenance window (GET /windows, read when the dialog opens), with an optional spread in minutes
 * (deliverDelayWindowMinutes) so that a fleet is not changed all at once.
 * @param {import('./api.js').Api} api
 * @returns {WhenPart}
 */
export function whenPart(api) {
  const name = newId('when');
  /** @param {string} value @param {string} label */
  const radio = (value, label) => {
    const id = newId('when-choice');
    const input = h('input', { id, type: 'radio', name, value });
    // Not list items: a radio group in a fieldset, kept out of the dialog's list of changes.
    return { input, el: h('div', { class: 'choice' }, input, h('label', { for: id }, label)) };
  };
  const now = radio('now', 'Now');
  const after = radio('after', 'After a date and time');
  const inWindow = radio('window', 'In a maintenance window');
  now.input.checked = true;
  const afterId = newId('when-after');
  const afterInput = h('input', { id: afterId, type: 'datetime-local' });
  const windowId = newId('when-window');
  const windowSelect = h('select', { id: windowId }, h('option', { value: '' }, 'Reading the windows…'));
  const spreadId = newId('when-spread');
  const spread = h('input', { id: spreadId, type: 'number', min: '0', max: String(MAX_SPREAD_MINUTES), step: '1', inputmode: 'numeric', placeholder: '0' });
  const afterField = h('div', { class: 'field', hidden: true }, h('label', { for: afterId }, `Not before (your time, ${Intl.DateTimeFormat().resolvedOptions().timeZone})`), afterInput);
  const windowField = h('div', { class: 'field', hidden: true }, h('label', { for: windowId }, 'Window'), windowSelect);
  const el = h('fieldset', { class: 'choices when' },
    h('legend', {}, 'When'),
    h('div', { class: 'choice-list' }, now.el, after.el, inWindow.el),
    afterField, windowField,
    h('div', { class: 'field' }, h('label', { for: spreadId }, 'Spread the starts over (minutes, optional)'), spread));
  const choice = () => [now, after, inWindow].find((r) => r.input.checked)?.input.value ?? 'now';
  const show = () => {
    afterField.hidden = choice() !== 'after';
    windowField.hidden = choice() !== 'window';
  };
  for (const r of [now, after, inWindow]) r.input.addEventListener('change', show);

  api.get('/windows').then((/** @type {{ name: string, open: boolean }[]} */ list) => {
    windowSelect.replaceChildren(...(list.length
      ? list.map((w) => h('option', { value: w.name }, `${w.name}${w.open ? ' (open now)' : ''}`))
      : [h('option', { value: '' }, 'No window is defined')]));
  }, () => {
    windowSelect.replaceChildren(h('option', { value: '' }, 'The windows cannot be read'));
  });

  return {
    el,
    check() {
      if (choice() === 'after') {
        if (!afterInput.value) return 'Give the date and time to start after.';
        if (!localToIso(afterInput.value)) return 'That date and time cannot be read.';
      }
      if (choice() === 'window' && !windowSelect.value) return 'Choose a maintenance window (an administrator defines them in Fleet › Windows).';
      if (spread.value !== '') {
        const n = Number(spread.value);
        if (!Number.isInteger(n) || n < 0 || n > MAX_SPREAD_MINUTES) return `The spread is a whole number of minutes from 0 to ${MAX_SPREAD_MINUTES}.`;
      }
      return null;
    },
    value() {
      /** @type {BatchSchedule} */
      const out = {};
      if (choice() === 'after') out.deliverAfter = localToIso(afterInput.value);
      if (choice() === 'window') out.window = windowSelect.value;
      if (spread.value !== '' && Number(spread.value) > 0) out.deliverDelayWindowMinutes = Number(spread.value);
      return out;
    },
  };
}
