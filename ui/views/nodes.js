// @ts-check
import { h, replace, timeAgo } from '../lib/dom.js';

/** Without a stream, node states are read again this often. */
const POLL_MS = 15_000;

/** @type {Record<string, string>} */
const STEP_WORDS = {
  'in-step': 'in step', behind: 'behind', failing: 'failing', absent: 'processor not on this node', unreachable: 'unreachable',
};

/**
 * Reads `load` now, again after each delivery change (at most once a second) and, without a stream, every few
 * seconds. Answers the event handler and the stop function.
 * @param {import('../app.js').PanelContext} ctx
 * @param {() => Promise<void>} load
 * @param {(ev: import('../lib/events.js').LiveEvent) => boolean} relevant
 */
function keepFresh(ctx, load, relevant) {
  let stopped = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let soon;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const again = () => {
    if (soon || stopped) return;
    soon = setTimeout(() => {
      soon = undefined;
      if (!stopped) load().catch(() => undefined);
    }, 1_000);
  };
  const poll = () => {
    timer = setTimeout(() => {
      if (stopped) return;
      (ctx.events.live ? Promise.resolve() : load()).catch(() => undefined).finally(() => {
        if (!stopped) poll();
      });
    }, POLL_MS);
  };
  const unsubscribe = ctx.events.subscribe((ev) => {
    if (ev.type === 'reconnected' || ev.type === 'reset' || relevant(ev)) again();
  });
  load().catch(() => undefined).finally(poll);
  return () => {
    stopped = true;
    clearTimeout(soon);
    clearTimeout(timer);
    unsubscribe();
  };
}

/**
 * The main node's compute nodes (GET /nodes, admins): reachable or not, last contact, pending and failed deliveries.
 * @param {import('../app.js').PanelContext} ctx
 * @returns {import('../app.js').View}
 */
export function renderNodes(ctx) {
  const { api, main } = ctx;
  document.title = 'Compute nodes · procenv';
  const status = h('p', { class: 'summary', role: 'status', 'aria-live': 'polite' }, 'Loading the compute nodes…');
  const body = h('tbody');
  main.append(
    h('h1', { tabindex: '-1' }, 'Compute nodes'),
    status,
    h('div', { class: 'table-wrap' }, h('table', { class: 'table nodes' },
      h('caption', { class: 'visually-hidden' }, 'Compute nodes of this main node'),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Node'), h('th', { scope: 'col' }, 'Address'), h('th', { scope: 'col' }, 'Reachable'),
        h('th', { scope: 'col' }, 'Last contact'), h('th', { scope: 'col', class: 'num' }, 'Pending deliveries'), h('th', { scope: 'col', class: 'num' }, 'Failed deliveries'))),
      body)));

  async function load() {
    try {
      /** @type {any[]} */
      const nodes = await api.get('/nodes');
      status.textContent = nodes.length === 0 ? 'No compute node is registered (procenv node add <code> <url>).' : `${nodes.length} compute nodes.`;
      replace(body, nodes.map((n) => h('tr', { dataset: { node: n.nodeCode } },
        h('th', { scope: 'row', 'data-label': 'Node' }, n.nodeCode, n.active ? null : h('span', { class: 'tag' }, 'inactive')),
        h('td', { 'data-label': 'Address' }, n.nodeBaseAddress),
        h('td', { 'data-label': 'Reachable' }, n.reachable ? h('span', { class: 'badge badge-done' }, 'yes') : [h('span', { class: 'badge badge-error' }, 'no'), n.error ? h('span', { class: 'error-words' }, n.error) : null],
          n.checkedAt ? h('span', { class: 'muted' }, ' checked ', timeAgo(n.checkedAt)) : null),
        h('td', { 'data-label': 'Last contact' }, n.lastContact ? timeAgo(n.lastContact) : 'never'),
        h('td', { 'data-label': 'Pending deliveries', class: 'num' }, String(n.pendingDeliveries)),
        h('td', { 'data-label': 'Failed deliveries', class: 'num' }, n.failedDeliveries ? h('span', { class: 'badge badge-error' }, String(n.failedDeliveries)) : '0'))));
    } catch (err) {
      status.textContent = `The compute nodes cannot be listed: ${/** @type {Error} */ (err).message}`;
    }
  }

  const stop = keepFresh(ctx, load, (ev) => ev.type === 'delivery.changed');
  return { dispose: stop };
}

/**
 * The compute nodes tab of a processor (GET /processors/:name/nodes, main node): where each node stands in the
 * processor's history, and why when it is behind.
 * @param {import('../app.js').PanelContext} ctx
 * @param {import('./processors.js').ProcessorSummary} summary
 * @returns {import('./processor.js').Tab}
 */
export function renderProcessorNodes(ctx, summary) {
  const { api } = ctx;
  const name = summary.name;
  const status = h('p', { class: 'summary', role: 'status', 'aria-live': 'polite' }, 'Loading the compute nodes…');
  const body = h('tbody');
  const el = h('section', { class: 'nodes-tab', 'aria-labelledby': 'nodes-heading' },
    h('h2', { id: 'nodes-heading', tabindex: '-1' }, 'Compute nodes'),
    status,
    h('div', { class: 'table-wrap' }, h('table', { class: 'table nodes' },
      h('caption', { class: 'visually-hidden' }, `Compute nodes and the history of ${name}`),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Node'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Applied'),
        h('th', { scope: 'col' }, 'Last sync'), h('th', { scope: 'col' }, 'Problem'))),
      body)));

  async function load() {
    try {
      const answer = await api.get(`/processors/${encodeURIComponent(name)}/nodes`);
      /** @type {any[]} */
      const nodes = answer.nodes ?? [];
      status.textContent = nodes.length === 0
        ? 'No active compute node is registered.'
        : `The history of ${name} has ${answer.lines} changes; each node applies them in order.`;
      replace(body, nodes.map((n) => h('tr', { dataset: { node: n.nodeCode, state: n.state } },
        h('th', { scope: 'row', 'data-label': 'Node' }, n.nodeCode),
        h('td', { 'data-label': 'State' }, h('span', { class: `badge badge-step-${n.state}` }, STEP_WORDS[n.state] ?? n.state), n.syncing ? ' (catching up)' : ''),
        h('td', { 'data-label': 'Applied' }, n.applied === undefined ? '' : `${n.applied} of ${answer.lines}`),
        h('td', { 'data-label': 'Last sync' }, n.lastSyncAt ? timeAgo(n.lastSyncAt) : ''),
        h('td', { 'data-label': 'Problem' },
          n.failing ? `line ${n.failing.index + 1} (${n.failing.line}) fails: ${n.failing.message}` : n.error ?? '',
          n.skipped?.length ? h('span', { class: 'muted' }, ` ${n.skipped.length} lines passed over`) : null))));
    } catch (err) {
      status.textContent = `The compute nodes cannot be read: ${/** @type {Error} */ (err).message}`;
    }
  }

  const stop = keepFresh(ctx, load, (ev) => ev.processor === name && (ev.type === 'delivery.changed' || ev.type === 'operation.ended'));
  return {
    el,
    refresh() {
      load().catch(() => undefined);
    },
    dispose: stop,
  };
}
