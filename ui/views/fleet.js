// @ts-check
import { h, plural, replace } from '../lib/dom.js';
import { renderFleetAudit } from './fleet-audit.js';
import { renderFleetBatches } from './fleet-batches.js';
import { renderFleetPackages } from './fleet-packages.js';
import { renderFleetUpdates } from './fleet-updates.js';
import { renderFleetWindows } from './fleet-windows.js';

/**
 * @typedef {import('./processors.js').ProcessorSummary} ProcessorSummary
 * @typedef {import('./processor.js').Tab & { open?(batchId: string): boolean }} Tab
 * @typedef {'upgrade-all' | 'security' | 'install' | 'upgrade' | 'remove'} BatchAction
 * @typedef {{ processors: string[] | 'all', action: BatchAction, packages?: string[], removeDependencies?: boolean } & import('../lib/when.js').BatchSchedule} BatchRequest
 * @typedef {{
 *   readonly processors: Map<string, ProcessorSummary>,
 *   canChange(processor: string): boolean,
 *   startBatch(request: BatchRequest, what: string): Promise<boolean>,
 * }} Fleet
 */

/**
 * The fleet: every processor the user can read at once, in three tabs. Packages (what is installed where, holds,
 * one package changed on many processors), Updates (per processor, checks and upgrades of everything) and Batches
 * (the changes of many processors the user started, with their progress).
 * @param {import('../app.js').PanelContext} ctx
 * @param {{ tab: import('../app.js').FleetTab, batch?: string }} route
 * @returns {import('../app.js').View}
 */
export function renderFleet(ctx, route) {
  const { api, events, me, main } = ctx;
  document.title = 'Fleet · procenv';
  let tabName = route.tab;
  let openBatch = route.batch;
  let disposed = false;
  /** @type {Tab | null} */
  let tab = null;
  /** @type {Map<string, ProcessorSummary>} */
  let processors = new Map();

  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Views of the fleet' });
  const panel = h('div', { class: 'tab-panel' });
  main.append(
    h('h1', { tabindex: '-1' }, 'Fleet'),
    h('p', { class: 'help' }, 'The packages, updates, vulnerabilities and batches of every processor you can read on this node, and the maintenance windows batches can wait for.'),
    tabs, panel);

  /** @type {Fleet} */
  const fleet = {
    get processors() {
      return processors;
    },
    // Batches and holds are made on the main node, and only of processors the user may change.
    canChange(name) {
      const p = processors.get(name);
      return me.mainNode && Boolean(p?.canWrite) && p?.manager !== null;
    },
    async startBatch(request, what) {
      try {
        const batch = await api.post('/batches', request);
        const queued = batch.progress?.queued ?? 0;
        const later = request.deliverAfter || request.window ? ' (scheduled)' : '';
        ctx.notify(`${what}: ${plural(queued, 'operation')} queued${later}; the batch is followed below.`, 'success');
        location.hash = `#/fleet/batches/${encodeURIComponent(batch.batchId)}`;
        return true;
      } catch (err) {
        ctx.notify(`${what} could not be started: ${/** @type {Error} */ (err).message}`, 'error');
        return false;
      }
    },
  };

  function renderTabs() {
    /** @type {[import('../app.js').FleetTab, string, string][]} */
    const items = [['packages', '#/fleet', 'Packages'], ['updates', '#/fleet/updates', 'Updates'], ['audit', '#/fleet/audit', 'Audit'], ['windows', '#/fleet/windows', 'Windows'], ['batches', '#/fleet/batches', 'Batches']];
    replace(tabs, items.map(([key, href, label]) => h('a', { href, class: 'tab', 'aria-current': key === tabName ? 'page' : false }, label)));
  }

  function showTab() {
    tab?.dispose();
    tab = null;
    panel.replaceChildren();
    renderTabs();
    if (tabName === 'updates') tab = renderFleetUpdates(ctx, fleet);
    else if (tabName === 'audit') tab = renderFleetAudit(ctx, fleet);
    else if (tabName === 'windows') tab = renderFleetWindows(ctx);
    else if (tabName === 'batches') tab = renderFleetBatches(ctx, fleet, openBatch);
    else tab = renderFleetPackages(ctx, fleet);
    panel.append(tab.el);
  }

  /** Who may change what: GET /processors says it per processor (canWrite). */
  async function loadProcessors() {
    /** @type {ProcessorSummary[]} */
    const list = await api.get('/processors');
    processors = new Map(list.map((p) => [p.name, p]));
  }

  const unsubscribe = events.subscribe((ev) => {
    if (ev.type === 'reset' || ev.type === 'reconnected') {
      loadProcessors().then(() => tab?.refresh?.(), () => undefined);
      return;
    }
    tab?.handle?.(ev);
  });

  renderTabs();
  loadProcessors().catch((err) => {
    ctx.notify(`The processors cannot be listed: ${/** @type {Error} */ (err).message}`, 'error');
  }).finally(() => {
    if (!disposed) showTab();
  });

  return {
    route(next) {
      if (next.name !== 'fleet') return false;
      if (next.tab !== tabName || next.batch !== openBatch) {
        const sameTab = next.tab === tabName;
        tabName = next.tab;
        openBatch = next.batch;
        // A batch just started opens in the list the Batches tab already shows, if it is the one on the page.
        if (!(sameTab && tab?.open && next.batch && tab.open(next.batch))) showTab();
        panel.querySelector('h2')?.focus();
      }
      return true;
    },
    dispose() {
      disposed = true;
      unsubscribe();
      tab?.dispose();
    },
  };
}
