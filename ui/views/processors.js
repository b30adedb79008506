// @ts-check
import { describeCommands, h, plural, replace, statusBadge, timeAgo } from '../lib/dom.js';

/**
 * @typedef {{ processObjId: string, status: string, at: number, commands: string[], userId?: string, error?: { code: string, message: string } }} LastOperation
 * @typedef {{
 *   name: string, processorId: string, type: string, manager: 'pip' | 'conda' | null, owner: string, isPublic: boolean,
 *   canWrite: boolean, packages: number | null, outdated: number | null, packagesError?: { code: string, message: string },
 *   lastOperation: LastOperation | null,
 * }} ProcessorSummary
 */

/** How often the list is read again when no event stream tells the panel what changed. */
const POLL_MS = 10_000;

/**
 * The operation of an event as the list's "last change" (events carry the operation as GET /operations/:id shows it).
 * @param {any} op
 * @returns {LastOperation}
 */
export function lastOperationOf(op) {
  return {
    processObjId: op.processObjId, status: op.status, at: op.operationEndTimestamp ?? op.lastStateChangeTimestamp ?? op.operationTimestamp,
    commands: op.commands ?? [], userId: op.userId, ...(op.error ? { error: op.error } : {}),
  };
}

/**
 * The processors the user can read, with a filter box. Rows change with the events (an operation's state, a new
 * package list) or, without a stream, by reading the list again every few seconds.
 * @param {import('../app.js').PanelContext} ctx
 * @returns {import('../app.js').View}
 */
export function renderProcessors(ctx) {
  const { api, events, main } = ctx;
  document.title = 'Processors · procenv';
  /** @type {ProcessorSummary[]} */
  let rows = [];
  let loaded = false;
  let disposed = false;

  const filter = h('input', { id: 'processor-filter', type: 'search', autocomplete: 'off', 'aria-controls': 'processor-table', placeholder: 'name, type, owner…' });
  const summary = h('p', { class: 'summary', role: 'status', 'aria-live': 'polite' }, 'Loading the processors…');
  const body = h('tbody');
  const table = h('table', { class: 'table processors', id: 'processor-table' },
    h('caption', { class: 'visually-hidden' }, 'Processors you can read'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'Manager'),
      h('th', { scope: 'col' }, 'Owner'), h('th', { scope: 'col', class: 'num' }, 'Packages'), h('th', { scope: 'col', class: 'num' }, 'Outdated'),
      h('th', { scope: 'col' }, 'Last change'), h('th', { scope: 'col' }, 'Result'))),
    body);
  main.append(
    h('h1', { tabindex: '-1' }, 'Processors'),
    h('div', { class: 'toolbar' }, h('div', { class: 'field' }, h('label', { for: 'processor-filter' }, 'Filter processors'), filter)),
    summary,
    h('div', { class: 'table-wrap' }, table));

  function render() {
    if (!loaded) return;
    const words = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const shown = rows.filter((r) => {
      const text = `${r.name} ${r.type} ${r.manager ?? ''} ${r.owner}`.toLowerCase();
      return words.every((w) => text.includes(w));
    });
    summary.textContent = rows.length === 0
      ? 'There is no processor you can read.'
      : words.length ? `${plural(shown.length, 'processor')} of ${rows.length} match “${filter.value.trim()}”.` : `${plural(rows.length, 'processor')} you can read.`;
    replace(body, shown.map(rowOf));
  }

  /** @param {ProcessorSummary} r */
  function rowOf(r) {
    const last = r.lastOperation;
    return h('tr', { dataset: { processor: r.name } },
      h('th', { scope: 'row', 'data-label': 'Name' }, h('a', { href: `#/p/${encodeURIComponent(r.name)}` }, r.name),
        r.isPublic ? null : h('span', { class: 'tag' }, 'private'), r.canWrite ? null : h('span', { class: 'tag' }, 'read-only')),
      h('td', { 'data-label': 'Type' }, r.type),
      h('td', { 'data-label': 'Manager' }, r.manager ?? 'none'),
      h('td', { 'data-label': 'Owner' }, r.owner),
      h('td', { 'data-label': 'Packages', class: 'num' }, r.packages ?? h('span', { class: 'warn', title: r.packagesError?.message ?? '' }, 'unreadable')),
      h('td', { 'data-label': 'Outdated', class: 'num' }, r.outdated === null ? '' : r.outdated > 0 ? h('span', { class: 'badge badge-outdated' }, String(r.outdated)) : '0'),
      h('td', { 'data-label': 'Last change' }, last ? [timeAgo(last.at), ': ', describeCommands(last.commands), last.userId ? ` by ${last.userId}` : ''] : 'none yet'),
      h('td', { 'data-label': 'Result' }, last ? [statusBadge(last.status), last.error ? h('span', { class: 'error-words' }, last.error.message) : null] : ''));
  }

  async function load() {
    try {
      rows = await api.get('/processors');
      loaded = true;
      render();
    } catch (err) {
      if (!loaded) summary.textContent = `The processors cannot be listed: ${/** @type {Error} */ (err).message}`;
    }
  }

  /** @param {string} name */
  async function reloadRow(name) {
    try {
      const row = await api.get(`/processors/${encodeURIComponent(name)}`);
      rows = rows.map((r) => (r.name === name ? row : r));
      render();
    } catch {
      // The next event or poll tries again.
    }
  }

  const unsubscribe = events.subscribe((ev) => {
    if (ev.type === 'reset' || ev.type === 'reconnected') {
      load().catch(() => undefined);
      return;
    }
    const row = rows.find((r) => r.name === ev.processor);
    if (!row) return;
    if (ev.type.startsWith('operation.') && ev.operation) {
      // The latest state change is the row's "last change" (the list read again names the newest operation).
      row.lastOperation = lastOperationOf(ev.operation);
      render();
    } else if (ev.type === 'packages.changed') {
      reloadRow(row.name).catch(() => undefined);
    }
  });

  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const poll = () => {
    timer = setTimeout(() => {
      if (disposed) return;
      (events.live ? Promise.resolve() : load()).finally(() => {
        if (!disposed) poll();
      });
    }, POLL_MS);
  };
  filter.addEventListener('input', render);
  load().finally(poll);
  return {
    dispose() {
      disposed = true;
      clearTimeout(timer);
      unsubscribe();
    },
  };
}
