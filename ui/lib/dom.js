// @ts-check
// DOM building and the words the panel uses for states, times and commands. Text always goes in as text nodes,
// never as HTML: package names, log lines and error messages come from tenants and package managers.

/**
 * @typedef {string | number | boolean | null | undefined | ((ev: any) => void) | Record<string, string>} PropValue
 * @typedef {Node | string | number | null | undefined | false} Child
 */

/**
 * An element with attributes and children. `on<event>` props add listeners, `dataset` sets data-* attributes,
 * `true` sets an empty attribute and `false`/null/undefined leave it out.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, PropValue>} [props]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset' && typeof value === 'object') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, ...children);
  return el;
}

/**
 * @param {Element} parent
 * @param {...(Child | Child[])} children
 */
export function append(parent, ...children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === 'number' ? String(child) : child);
  }
}

/**
 * Replaces an element's children.
 * @param {Element} parent
 * @param {...(Child | Child[])} children
 */
export function replace(parent, ...children) {
  parent.replaceChildren();
  append(parent, ...children);
}

/**
 * Runs a button's action once at a time: clicks while procenv has not answered are ignored (a double click queues
 * one operation). The button keeps the focus (a disabled one would lose it). A failure goes to `onError`.
 * @param {Event} ev
 * @param {() => Promise<unknown>} action
 * @param {(err: Error) => void} onError
 */
export function whileBusy(ev, action, onError) {
  const button = /** @type {HTMLButtonElement} */ (ev.currentTarget);
  if (button.getAttribute('aria-disabled') === 'true') return;
  button.setAttribute('aria-disabled', 'true');
  action().catch(onError).finally(() => {
    button.removeAttribute('aria-disabled');
  });
}

let uid = 0;
/** An id unique in the page, for label/aria wiring. @param {string} prefix */
export function newId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** @type {Record<string, string>} */
const STATUS_WORDS = { CREATED: 'Queued', RUNNING: 'Running', DONE: 'Done', ERROR: 'Failed', STOPPED: 'Stopped' };

/** The panel's word for an operation status. @param {string} status */
export function statusWords(status) {
  return STATUS_WORDS[status] ?? status.toLowerCase();
}

/** @param {string} status */
export function isFinal(status) {
  return status === 'DONE' || status === 'ERROR' || status === 'STOPPED';
}

/** A status badge: colour and a word, never colour alone. @param {string} status */
export function statusBadge(status) {
  return h('span', { class: `badge badge-${status.toLowerCase()}` }, statusWords(status));
}

/** @type {Record<string, string>} */
const ACTION_WORDS = { addPackage: 'add', upgradePackage: 'upgrade', removePackage: 'remove' };

/**
 * `addPackage/numpy/1.26.4/` → "add numpy 1.26.4".
 * @param {string} command
 */
export function describeCommand(command) {
  const [action = '', name = '', version = ''] = command.split('/');
  return [ACTION_WORDS[action] ?? action, name, version].filter(Boolean).join(' ');
}

/**
 * What an operation does, in words: its commands, or a refresh of the package list when it has none.
 * @param {string[]} commands
 */
export function describeCommands(commands) {
  if (!commands || commands.length === 0) return 'refresh of the package list';
  if (commands.length <= 3) return commands.map(describeCommand).join(', ');
  return `${commands.slice(0, 2).map(describeCommand).join(', ')} and ${commands.length - 2} more`;
}

/** @param {number} ms */
export function formatDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const clockFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });

/** @param {number} ms */
export function formatTime(ms) {
  return timeFormat.format(new Date(ms));
}

/** @param {number} ms */
export function formatClock(ms) {
  return clockFormat.format(new Date(ms));
}

/**
 * "3 min ago", in a <time> element whose title is the full date.
 * @param {number} ms
 */
export function timeAgo(ms) {
  const s = Math.round((Date.now() - ms) / 1000);
  let words;
  if (s < 45) words = 'just now';
  else if (s < 3600) words = `${Math.max(1, Math.round(s / 60))} min ago`;
  else if (s < 86_400) words = `${Math.round(s / 3600)} h ago`;
  else words = `${Math.round(s / 86_400)} days ago`;
  return h('time', { datetime: new Date(ms).toISOString(), title: formatTime(ms) }, words);
}

/** "1 package", "2 packages". @param {number} n @param {string} word */
export function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
