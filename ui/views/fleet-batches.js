// @ts-check
import { confirmAction } from '../lib/dialog.js';
import { describeCommands, formatTime, h, isFinal, newId, plural, replace, statusBadge, timeAgo, whileBusy } from '../lib/dom.js';

/**
 * @typedef {{
 *   processor: string, operationId?: string, operationIds?: string[], commands?: string[], skipped?: string,
 *   refused?: { code: string, message: string }, held?: string[], notInstalled?: string[], unfixable?: string[], orphans?: string[],
 * }} BatchResult
 * @typedef {{
 *   batchId: string, userId: string, createdAt: number, action: import('./fleet.js').BatchAction, processors: string[] | 'all',
 *   packages: { name: string, version?: string }[], removeDependencies: boolean, results: BatchResult[],
 *   cancelledAt?: number, cancelledBy?: string,
 *   progress: { total: number, queued: number, skipped: number, refused: number, byStatus: Record<string, number>, finished: boolean },
 *   operations: { processor: string, operationId: string, status: string, error?: { code: string, message: string }, notBefore?: number, window?: string }[],
 *   alone?: boolean,
 * }} BatchView
 */

const PAGE = 20;
/** As procenv lists them: newest first, then by id. @param {BatchView} x @param {BatchView} y */
const newestFirst = (x, y) => y.createdAt - x.createdAt || (x.batchId < y.batchId ? -1 : x.batchId > y.batchId ? 1 : 0);
/** A batch still running is read again this often without the event stream, and now and then with it. */
const POLL_MS = 1_500;
const SAFETY_POLL_MS = 10_000;

/** @type {Record<string, string>} */
const ACTION_WORDS = { 'upgrade-all': 'Upgrade everything outdated', security: 'Install security updates', install: 'Install', upgrade: 'Upgrade', remove: 'Remove' };

/** "Upgrade numpy", "Upgrade everything outdated". @param {BatchView} b */
export function describeBatch(b) {
  const names = b.packages.map((p) => (p.version ? `${p.name} ${p.version}` : p.name));
  const what = names.length <= 3 ? names.join(', ') : `${names.slice(0, 2).join(', ')} and ${names.length - 2} more`;
  return [ACTION_WORDS[b.action] ?? b.action, what, b.removeDependencies ? 'with the dependencies nothing else needs' : ''].filter(Boolean).join(' ');
}

/** The batch's state in one word: running while an operation may still start or runs. @param {BatchView} b */
function stateOf(b) {
  if (!b.progress.finished) return b.cancelledAt ? 'cancelling' : 'running';
  return b.cancelledAt ? 'cancelled' : 'finished';
}

/** @type {Record<string, string>} */
const STATE_WORDS = { running: 'In progress', cancelling: 'Cancelling', cancelled: 'Cancelled', finished: 'Finished' };

/**
 * The user's batches (an admin's: everyone's), newest first, with their progress: operations queued, running, done,
 * failed and stopped, and the processors skipped or refused. Each batch's results per processor on demand: the
 * operation and its state, or why it got none (refused, skipped), the held packages left alone. A batch with
 * operations still queued can be cancelled. Progress follows the event stream, or a read every second and a half.
 * @param {import('../app.js').PanelContext} ctx
 * @param {import('./fleet.js').Fleet} fleet
 * @param {string} [openId] a batch to show with its results open (one just started)
 * @returns {import('./processor.js').Tab & { open(batchId: string): boolean }}
 */
export function renderFleetBatches(ctx, fleet, openId) {
  const { api, events } = ctx;
  let disposed = false;
  let loaded = false;
  let complete = false;
  /** @type {BatchView[]} */
  let batches = [];
  /** Batches whose results are shown. @type {Set<string>} */
  const open = new Set(openId ? [openId] : []);
  /** The batch to bring into view once it is on the page. */
  let reveal = openId;

  /** @param {Event} ev @param {() => Promise<unknown>} action */
  const busy = (ev, action) => whileBusy(ev, action, (err) => ctx.notify(`That did not work: ${err.message}`, 'error'));

  const status = h('p', { class: 'summary', role: 'status', 'aria-live': 'polite' }, 'Loading the batches…');
  const list = h('ol', { class: 'batches' });
  const more = h('button', { type: 'button', class: 'button', hidden: true }, 'Show older batches');
  const el = h('section', { class: 'fleet-batches-tab', 'aria-labelledby': 'fleet-batches-heading' },
    h('h2', { id: 'fleet-batches-heading', tabindex: '-1' }, 'Batches'),
    h('p', { class: 'help' }, 'Changes of many processors at once, newest first. Each processor’s part is one operation in its own queue and history.'),
    status, list, more);

  function render() {
    if (!loaded) return;
    const focusKey = document.activeElement instanceof HTMLElement && list.contains(document.activeElement) ? document.activeElement.dataset.focusKey : undefined;
    const n = batches.length;
    status.textContent = n === 0 ? 'No batch yet. Start one from Packages or Updates.' : `${n} batch${n === 1 ? '' : 'es'}${complete ? '' : ' (older ones below)'}, newest first.`;
    more.hidden = complete;
    replace(list, batches.map(itemOf));
    if (focusKey) {
      const again = /** @type {HTMLElement | null} */ (list.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`));
      again?.focus();
    }
    if (reveal) {
      const item = /** @type {HTMLElement | null} */ (list.querySelector(`[data-batch-id="${CSS.escape(reveal)}"] h3`));
      if (item) {
        reveal = undefined;
        item.scrollIntoView({ block: 'nearest' });
        item.focus();
      }
    }
  }

  /** @param {BatchView} b */
  function itemOf(b) {
    const id = b.batchId;
    const state = stateOf(b);
    const isOpen = open.has(id);
    const titleId = newId('batch-title');
    const resultsId = `batch-results-${id}`;
    const ops = b.operations.length;
    const ended = b.operations.filter((o) => isFinal(o.status)).length;
    const toggle = h('button', {
      type: 'button', class: 'button button-small', 'aria-expanded': String(isOpen), 'aria-controls': resultsId, dataset: { focusKey: `toggle:${id}` },
      onclick: () => {
        if (open.has(id)) open.delete(id);
        else open.add(id);
        render();
      },
    }, isOpen ? 'Hide results' : 'Show results');
    const queued = b.progress.byStatus.CREATED ?? 0;
    return h('li', { class: 'batch', dataset: { batchId: id, state } },
      h('section', { 'aria-labelledby': titleId },
        h('div', { class: 'batch-head' },
          h('h3', { id: titleId, tabindex: '-1' }, `${describeBatch(b)} · ${plural(b.progress.total, 'processor')}`),
          h('span', { class: `badge badge-batch-${state}` }, STATE_WORDS[state] ?? state)),
        h('p', { class: 'op-meta' }, 'Started ', timeAgo(b.createdAt), ` by ${b.userId} · id ${id.slice(0, 8)}`,
          b.cancelledAt ? ` · cancelled by ${b.cancelledBy ?? 'someone'} at ${formatTime(b.cancelledAt)}` : ''),
        ops ? h('progress', { class: 'batch-progress', max: String(ops), value: String(ended), 'aria-label': `${ended} of ${plural(ops, 'operation')} ended` }) : null,
        h('p', { class: 'batch-counts' }, countsOf(b)),
        h('div', { class: 'row-actions' },
          toggle,
          queued > 0 ? h('button', {
            type: 'button', class: 'button button-small button-danger-outline', dataset: { focusKey: `cancel:${id}` },
            'aria-label': `Cancel the batch “${describeBatch(b)}”…`,
            onclick: (/** @type {Event} */ ev) => busy(ev, () => cancel(b)),
          }, 'Cancel batch…') : null),
        isOpen ? resultsOf(b, resultsId) : null));
  }

  /** "1 queued · 1 done · 1 skipped": every count that is not zero, in words. @param {BatchView} b */
  function countsOf(b) {
    const s = b.progress.byStatus;
    /** @type {[number, string, string][]} */
    const parts = [
      [s.CREATED ?? 0, 'queued', 'created'], [s.RUNNING ?? 0, 'running', 'running'], [s.DONE ?? 0, 'done', 'done'],
      [s.ERROR ?? 0, 'failed', 'error'], [s.STOPPED ?? 0, 'stopped', 'stopped'],
      [b.progress.skipped, 'skipped', 'skipped'], [b.progress.refused, 'refused', 'refused'],
    ];
    const shown = parts.filter(([n]) => n > 0);
    if (shown.length === 0) return 'Nothing to do.';
    return shown.flatMap(([n, words, key], i) => [i ? ' · ' : '', h('span', { class: 'count', dataset: { count: key } }, `${n} ${words}`)]);
  }

  /** One row per processor: its operations and their states, or why it got none; the packages left alone. @param {BatchView} b @param {string} resultsId */
  function resultsOf(b, resultsId) {
    return h('div', { class: 'table-wrap', id: resultsId }, h('table', { class: 'table batch-results' },
      h('caption', { class: 'visually-hidden' }, `Results of the batch per processor`),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Processor'), h('th', { scope: 'col' }, 'Result'), h('th', { scope: 'col' }, 'Changes'), h('th', { scope: 'col' }, 'Notes'))),
      h('tbody', {}, b.results.map((r) => {
        const ops = b.operations.filter((o) => o.processor === r.processor);
        const href = `#/p/${encodeURIComponent(r.processor)}`;
        return h('tr', { dataset: { processor: r.processor, outcome: r.refused ? 'refused' : r.skipped ? 'skipped' : 'queued' } },
          h('th', { scope: 'row', 'data-label': 'Processor' }, fleet.processors.has(r.processor) ? h('a', { href }, r.processor) : r.processor),
          h('td', { 'data-label': 'Result' },
            r.refused ? [h('span', { class: 'badge badge-refused' }, 'refused'), h('span', { class: 'error-words' }, r.refused.message)]
              : r.skipped ? [h('span', { class: 'badge badge-stopped' }, 'skipped'), h('span', { class: 'pkg-extra' }, r.skipped)]
                : ops.map((o) => h('span', { class: 'batch-op', dataset: { operationId: o.operationId, status: o.status } },
                  isFinal(o.status) ? h('a', { href: `${href}/history/${encodeURIComponent(o.operationId)}`, title: 'The operation in the history' }, statusBadge(o.status)) : statusBadge(o.status),
                  o.error ? h('span', { class: 'error-words' }, o.error.message) : null,
                  plannedStart(o)))),
          h('td', { 'data-label': 'Changes' }, r.commands?.length ? describeCommands(r.commands) : ''),
          h('td', { 'data-label': 'Notes' }, notesOf(r)));
      }))));
  }

  /**
   * A scheduled operation that has not started: when it will, in the viewer's time (and its window).
   * @param {BatchView['operations'][number]} o
   */
  function plannedStart(o) {
    if (o.status !== 'CREATED' || o.notBefore === undefined) return null;
    return h('span', { class: 'pkg-extra planned', dataset: { notBefore: String(o.notBefore) } },
      o.notBefore > Date.now() ? 'planned for ' : 'may start since ',
      h('time', { datetime: new Date(o.notBefore).toISOString() }, formatTime(o.notBefore)),
      o.window ? ` in window ${o.window}` : '');
  }

  /** @param {BatchResult} r */
  function notesOf(r) {
    /** @type {[string[] | undefined, string][]} */
    const notes = [[r.held, 'held, left alone'], [r.notInstalled, 'not installed'], [r.unfixable, 'no version clears its advisories'], [r.orphans, 'removed as no longer needed']];
    const items = notes.filter(([names]) => names?.length).map(([names, words]) => h('li', {}, `${words}: `, h('strong', {}, (names ?? []).join(', '))));
    return items.length ? h('ul', { class: 'notes' }, items) : '';
  }

  /** @param {BatchView} b */
  async function cancel(b) {
    const queued = b.progress.byStatus.CREATED ?? 0;
    const running = b.progress.byStatus.RUNNING ?? 0;
    const yes = await confirmAction({
      title: 'Cancel this batch?',
      body: [
        `${describeBatch(b)}: ${plural(queued, 'queued operation')} ${queued === 1 ? 'is' : 'are'} dropped and never run${running ? `; the ${plural(running, 'operation')} already running carry on to their end` : ''}. Operations that ended stay as they are.`,
      ],
      confirm: 'Cancel batch', cancel: 'Keep it',
    });
    if (!yes || disposed) return;
    try {
      put(await api.post(`/batches/${encodeURIComponent(b.batchId)}/cancel`));
      ctx.notify('The batch was cancelled: its queued operations are stopped.', 'success');
    } catch (err) {
      ctx.notify(`The batch could not be cancelled: ${/** @type {Error} */ (err).message}`, 'error');
    }
  }

  /** A batch as procenv answered it, in its place (newest first). @param {BatchView} b */
  function put(b) {
    const i = batches.findIndex((x) => x.batchId === b.batchId);
    if (i >= 0) batches[i] = batches[i]?.alone ? { ...b, alone: true } : b;
    else batches = [...batches, b].sort(newestFirst);
    render();
  }

  /** @param {boolean} [older] */
  async function load(older = false) {
    try {
      // The list again: as many as are shown (a batch read on its own by its link is not counted in the paging).
      const listed = batches.filter((b) => !b.alone).length;
      const limit = older ? PAGE : Math.min(500, Math.max(PAGE, listed));
      /** @type {BatchView[]} */
      const page = await api.get('/batches', { limit, offset: older ? listed : 0 });
      if (disposed) return;
      if (older) batches = batches.filter((b) => !page.some((x) => x.batchId === b.batchId)).concat(page);
      else batches = page;
      batches.sort(newestFirst);
      complete = page.length < limit;
      // A batch asked for by its link that is older than the page: read on its own.
      if (reveal && !batches.some((b) => b.batchId === reveal)) {
        try {
          batches.push({ ...(await api.get(`/batches/${encodeURIComponent(reveal)}`)), alone: true });
        } catch (err) {
          ctx.notify(`That batch cannot be shown: ${/** @type {Error} */ (err).message}`, 'error');
          reveal = undefined;
        }
      }
      loaded = true;
      render();
    } catch (err) {
      status.textContent = `The batches cannot be read: ${/** @type {Error} */ (err).message}`;
    }
  }

  /** Batches to read again soon (an event said one of their operations moved), once for a burst. @type {Set<string>} */
  const stale = new Set();
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let soon;
  /** @param {string} batchId */
  function readSoon(batchId) {
    stale.add(batchId);
    if (soon) return;
    soon = setTimeout(() => {
      soon = undefined;
      const ids = [...stale];
      stale.clear();
      for (const id of ids) {
        api.get(`/batches/${encodeURIComponent(id)}`).then((b) => {
          if (!disposed) put(b);
        }, () => undefined);
      }
    }, 300);
  }

  /** The list read again once for a burst of events (a new batch's operations are queued one per processor). @type {ReturnType<typeof setTimeout> | undefined} */
  let listSoon;
  function loadSoon() {
    if (listSoon) return;
    listSoon = setTimeout(() => {
      listSoon = undefined;
      if (!disposed) load().catch(() => undefined);
    }, 500);
  }

  /** The batch an operation belongs to, among those on the page. @param {string} operationId */
  function batchOf(operationId) {
    return batches.find((b) => b.results.some((r) => r.operationId === operationId || r.operationIds?.includes(operationId)));
  }

  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const poll = () => {
    timer = setTimeout(() => {
      if (disposed) return;
      for (const b of batches) if (!b.progress.finished) readSoon(b.batchId);
      poll();
    }, events.live ? SAFETY_POLL_MS : POLL_MS);
  };

  more.addEventListener('click', () => {
    load(true).catch(() => undefined);
  });
  load().catch(() => undefined).finally(() => {
    if (!disposed) poll();
  });

  return {
    el,
    refresh() {
      load().catch(() => undefined);
    },
    handle(ev) {
      if (!ev.type.startsWith('operation.') || !ev.operationId || ev.type === 'operation.log' || ev.type === 'operation.progress') return;
      const b = batchOf(ev.operationId);
      if (b) readSoon(b.batchId);
      // An operation of a batch the page does not show yet (started in another tab): the list is read again.
      else if (ev.type === 'operation.queued' && ev.operation?.batchId) loadSoon();
    },
    open(batchId) {
      open.add(batchId);
      reveal = batchId;
      if (batches.some((b) => b.batchId === batchId)) render();
      else load().catch(() => undefined);
      return true;
    },
    dispose() {
      disposed = true;
      clearTimeout(timer);
      clearTimeout(soon);
      clearTimeout(listSoon);
    },
  };
}
