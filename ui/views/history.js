// @ts-check
import { describeCommand, formatClock, formatDuration, formatTime, h, newId, replace, statusBadge, timeAgo } from '../lib/dom.js';
import { DELIVERY_WORDS } from './operation.js';

const PAGE = 20;
/** An operation asked for by a link is looked for in at most this many pages. */
const REVEAL_PAGES = 25;

/**
 * The history tab: the processor's ended operations, newest first (GET /processors/:name/history): who, when, the
 * changes, the result with the error in words, how long it took; each one's log and, on the main node, what each
 * compute node made of it, on demand.
 * @param {import('../app.js').PanelContext} ctx
 * @param {import('./processors.js').ProcessorSummary} summary
 * @param {string} [operationId] an operation to show with its details open, and the focus on it (a link from the
 *   Generations tab names the operation that made a generation)
 * @returns {import('./processor.js').Tab}
 */
export function renderHistory(ctx, summary, operationId) {
  const { api, me } = ctx;
  const name = summary.name;
  /** @type {import('./operation.js').OperationView[]} */
  let entries = [];
  let complete = false;
  let disposed = false;
  /** Operations whose details are open: kept open when the list is read again. */
  const open = new Set();
  if (operationId) open.add(operationId);

  const status = h('p', { class: 'summary', role: 'status', 'aria-live': 'polite' }, 'Loading the history…');
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'button', hidden: true }, 'Show older operations');
  const el = h('section', { class: 'history-tab', 'aria-labelledby': 'history-heading' },
    h('h2', { id: 'history-heading', tabindex: '-1' }, 'History'),
    status,
    h('div', { class: 'table-wrap' }, h('table', { class: 'table history' },
      h('caption', { class: 'visually-hidden' }, `Operations of ${name}, newest first`),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'Who'), h('th', { scope: 'col' }, 'Changes'),
        h('th', { scope: 'col' }, 'Result'), h('th', { scope: 'col' }, 'Took'), h('th', { scope: 'col' }, 'Details'))),
      body)),
    more);

  function render() {
    status.textContent = entries.length === 0 ? 'No operation has ended on this processor yet.' : `${entries.length} operations${complete ? '' : ' (older ones below)'}.`;
    more.hidden = complete;
    replace(body, entries.flatMap(rowsOf));
  }

  /** @param {import('./operation.js').OperationView} op */
  function rowsOf(op) {
    const detailsId = `details-${op.processObjId}`;
    const isOpen = open.has(op.processObjId);
    const toggle = h('button', { type: 'button', class: 'button button-small', 'aria-expanded': String(isOpen), 'aria-controls': detailsId }, isOpen ? 'Hide' : 'Show');
    toggle.setAttribute('aria-label', `${isOpen ? 'Hide' : 'Show'} the log of the operation of ${formatTime(op.operationTimestamp)}`);
    toggle.addEventListener('click', () => {
      if (open.has(op.processObjId)) open.delete(op.processObjId);
      else open.add(op.processObjId);
      render();
      /** @type {HTMLElement | null} */ (body.querySelector(`[aria-controls="${CSS.escape(detailsId)}"]`))?.focus();
    });
    const partial = op.status !== 'DONE' && op.appliedCount !== undefined && op.commands.length > 1 ? ` (${op.appliedCount} of ${op.commands.length} commands applied)` : '';
    const row = h('tr', { dataset: { operationId: op.processObjId, status: op.status } },
      h('td', { 'data-label': 'When' }, h('span', {}, formatTime(op.operationTimestamp), h('span', { class: 'muted' }, ' (', timeAgo(op.operationTimestamp), ')'))),
      h('td', { 'data-label': 'Who' }, op.userId),
      h('td', { 'data-label': 'Changes' }, op.commands.length === 0 ? 'refresh of the package list' : h('ul', { class: 'commands' }, op.commands.map((c) => h('li', {}, describeCommand(c))))),
      h('td', { 'data-label': 'Result' }, statusBadge(op.status), op.error ? h('span', { class: 'error-words' }, op.error.message) : null, partial),
      h('td', { 'data-label': 'Took' }, op.durationMs === undefined ? '' : formatDuration(op.durationMs)),
      h('td', { 'data-label': 'Details' }, toggle));
    if (!isOpen) return [row];
    const details = h('td', { colspan: '6' }, h('p', {}, 'Loading the log…'));
    loadDetails(op, details).catch(() => undefined);
    return [row, h('tr', { id: detailsId, class: 'details' }, details)];
  }

  /** The log, and on the main node each compute node's delivery. @param {import('./operation.js').OperationView} op @param {HTMLElement} cell */
  async function loadDetails(op, cell) {
    const id = encodeURIComponent(op.processObjId);
    const [lines, full] = await Promise.all([
      api.get(`/operations/${id}/log`).catch((/** @type {Error} */ err) => err),
      me.mainNode ? api.get(`/operations/${id}`).catch(() => null) : Promise.resolve(null),
    ]);
    if (disposed) return;
    /** @type {(Node | string)[]} */
    const parts = [];
    const nodes = full?.nodes ?? [];
    if (nodes.length) {
      parts.push(h('h3', {}, 'Compute nodes'), h('ul', { class: 'op-nodes' }, nodes.map((/** @type {any} */ n) => h('li', {}, h('strong', {}, n.nodeCode),
        `: ${DELIVERY_WORDS[n.state] ?? n.state}`, n.attempts > 1 ? ` after ${n.attempts} attempts` : '', n.lastError ? ` (${n.lastError})` : ''))));
    } else if (me.mainNode) {
      parts.push(h('p', { class: 'muted' }, 'Not sent to compute nodes (none registered, or a refresh, which stays local).'));
    }
    const logId = newId('log');
    parts.push(h('h3', { id: logId }, 'Log'));
    if (lines instanceof Error) parts.push(h('p', { class: 'form-error' }, `The log cannot be read: ${lines.message}`));
    else if (lines.length === 0) parts.push(h('p', { class: 'muted' }, 'This operation wrote no log.'));
    else {
      parts.push(h('pre', { class: 'log', tabindex: '0', 'aria-labelledby': logId },
        lines.map((/** @type {any} */ l) => h('span', { class: `line line-${l.stream}` }, `${formatClock(l.t)}  ${l.line}`))));
    }
    replace(cell, parts);
  }

  /** @param {boolean} older @returns {Promise<boolean>} whether the page could be read */
  async function load(older) {
    try {
      const page = await api.get(`/processors/${encodeURIComponent(name)}/history`, { limit: PAGE, offset: older ? entries.length : 0 });
      if (disposed) return false;
      if (older) entries = entries.concat(page.filter((/** @type {any} */ op) => !entries.some((e) => e.processObjId === op.processObjId)));
      else {
        // Newer entries first; the older pages already shown stay.
        const seen = new Set(page.map((/** @type {any} */ op) => op.processObjId));
        entries = page.concat(entries.filter((e) => !seen.has(e.processObjId) && e.operationTimestamp < (page.at(-1)?.operationTimestamp ?? Infinity)));
      }
      if (older || entries.length <= PAGE) complete = page.length < PAGE;
      render();
      return true;
    } catch (err) {
      status.textContent = `The history cannot be read: ${/** @type {Error} */ (err).message}`;
      return false;
    }
  }

  /** Reads older pages until the operation asked for is on the page, then moves the focus to it. @param {string} id */
  async function reveal(id) {
    for (let page = 0; !disposed; page++) {
      if (entries.some((e) => e.processObjId === id)) {
        /** @type {HTMLElement | null} */ (body.querySelector(`[aria-controls="${CSS.escape(`details-${id}`)}"]`))?.focus();
        return;
      }
      if (complete || page >= REVEAL_PAGES) break;
      // A page that cannot be read says so in the status line.
      if (!(await load(true))) return;
    }
    if (!disposed) ctx.notify(`That operation is not in the history of ${name}: it has not ended yet, or it is older than the operations shown.`);
  }

  more.addEventListener('click', () => {
    load(true).catch(() => undefined);
  });
  load(false).then((read) => (read && operationId ? reveal(operationId) : undefined)).catch(() => undefined);

  return {
    el,
    refresh() {
      load(false).catch(() => undefined);
    },
    handle(ev) {
      if (ev.type === 'operation.ended') load(false).catch(() => undefined);
    },
    dispose() {
      disposed = true;
    },
  };
}
