// @ts-check
import { idempotencyKey } from '../lib/api.js';
import { confirmAction } from '../lib/dialog.js';
import { describeCommands, h, replace } from '../lib/dom.js';
import { renderGenerations } from './generations.js';
import { renderHistory } from './history.js';
import { renderProcessorNodes } from './nodes.js';
import { followOperation } from './operation.js';
import { renderPackages } from './packages.js';

/**
 * @typedef {import('./processors.js').ProcessorSummary} ProcessorSummary
 * @typedef {import('./operation.js').OperationView} OperationView
 * @typedef {{ el: HTMLElement, dispose(): void, handle?(ev: import('../lib/events.js').LiveEvent): void, refresh?(): void }} Tab
 * @typedef {{
 *   summary: ProcessorSummary,
 *   submit(commands: string[], what?: string, onError?: (message: string) => void): Promise<boolean>,
 *   follow(op: OperationView): void,
 *   resetHistory(): Promise<void>,
 * }} ProcessorActions
 */

/** Active operations are looked for this often when no event stream says when one is queued. */
const POLL_MS = 5_000;
/** Ended operations kept on the page until dismissed; older ones go by themselves. */
const ENDED_KEPT = 3;

/**
 * One processor: its header (manager and version, type, owner, the user's rights), the operations running or just
 * ended, and four tabs: packages, history, generations and (main node) the compute nodes.
 * @param {import('../app.js').PanelContext} ctx
 * @param {{ processor: string, tab: import('../app.js').ProcessorTab, operation?: string }} route
 * @returns {import('../app.js').View}
 */
export function renderProcessor(ctx, route) {
  const { api, events, me, main } = ctx;
  const name = route.processor;
  const path = `/processors/${encodeURIComponent(name)}`;
  document.title = `${name} · procenv`;
  let disposed = false;
  let tabName = route.tab;
  /** The history's operation to open (#/p/<name>/history/<id>). */
  let tabOperation = route.operation;
  /** @type {ProcessorSummary | null} */
  let summary = null;
  /** @type {Tab | null} */
  let tab = null;
  /** @type {Map<string, import('./operation.js').Follower>} */
  const followers = new Map();

  const heading = h('h1', { tabindex: '-1' }, name);
  const meta = h('p', { class: 'processor-meta' }, 'Loading…');
  const tabs = h('nav', { class: 'tabs', 'aria-label': `Views of ${name}` });
  const opsHeading = h('h2', { class: 'ops-heading', hidden: true }, 'Operations');
  const ops = h('div', { class: 'ops' });
  const panel = h('div', { class: 'tab-panel' });
  main.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Processors'), ' / ', name),
    heading, meta, tabs, h('section', { class: 'ops-section', 'aria-label': 'Operations of this processor' }, opsHeading, ops), panel);

  async function loadSummary() {
    const [row, version] = await Promise.all([
      api.get(path),
      api.get('/packageManager/managerVersion', { name }).catch(() => null),
    ]);
    summary = row;
    replace(meta,
      h('span', {}, row.manager ? `${version?.name ?? row.manager} ${version?.version ?? ''}`.trim() : 'no package manager'),
      ' · ', h('span', {}, row.type), ' · ', h('span', {}, `owner ${row.owner}`), ' · ', h('span', {}, row.isPublic ? 'public' : 'private'),
      ' · ', h('strong', { class: row.canWrite ? 'can-write' : 'read-only' }, row.canWrite ? 'you can change it' : 'read-only for you'));
    return row;
  }

  function renderTabs() {
    const base = `#/p/${encodeURIComponent(name)}`;
    /** @type {[string, string, string][]} */
    const items = [['packages', base, 'Packages'], ['history', `${base}/history`, 'History'], ['generations', `${base}/generations`, 'Generations']];
    if (me.mainNode) items.push(['nodes', `${base}/nodes`, 'Compute nodes']);
    replace(tabs, items.map(([key, href, label]) => h('a', { href, class: 'tab', 'aria-current': key === tabName ? 'page' : false }, label)));
  }

  function showTab() {
    tab?.dispose();
    tab = null;
    panel.replaceChildren();
    renderTabs();
    if (!summary) return;
    if (tabName === 'history') tab = renderHistory(ctx, summary, tabOperation);
    else if (tabName === 'generations') tab = renderGenerations(ctx, actions);
    else if (tabName === 'nodes' && me.mainNode) tab = renderProcessorNodes(ctx, summary);
    else tab = renderPackages(ctx, actions);
    panel.append(tab.el);
  }

  /** @type {ProcessorActions} */
  const actions = {
    get summary() {
      return /** @type {ProcessorSummary} */ (summary);
    },
    /**
     * Queues the commands as one operation and follows it; answers whether it was queued. A refusal goes to
     * `onError` when given (shown beside a form), else to a notice.
     */
    async submit(commands, what, onError) {
      try {
        /** @type {OperationView} */
        const op = await api.post(`${path}/operations`, { commands }, { 'idempotency-key': idempotencyKey() });
        follow(op);
        return true;
      } catch (err) {
        const message = /** @type {Error} */ (err).message;
        if (onError) onError(`${what ?? describeCommands(commands)}: ${message}`);
        else ctx.notify(`${what ?? describeCommands(commands)} could not be queued: ${message}`, 'error');
        return false;
      }
    },
    follow(op) {
      follow(op);
    },
    async resetHistory() {
      const row = actions.summary;
      const yes = await confirmAction({
        title: `Reset the history of ${name}?`,
        body: [
          `This deletes the list of changes applied to ${name} (envActionsList.txt): the list WASDI replays to rebuild the environment and the compute nodes follow. They start over from a new, empty list and do not apply the old changes again.`,
          'The installed packages stay as they are, and procenv’s own record of operations (the History tab) is kept.',
        ],
        confirm: 'Reset history',
      });
      if (!yes) return;
      try {
        await api.get('/packageManager/reset', { processorId: row.processorId, workspace: '-' });
        ctx.notify(`The history of ${name} was reset.`, 'success');
        tab?.refresh?.();
      } catch (err) {
        ctx.notify(`The history could not be reset: ${/** @type {Error} */ (err).message}`, 'error');
      }
    },
  };

  /** Shows an operation of this processor, once, newest on top. @param {OperationView} op */
  function follow(op) {
    if (disposed || followers.has(op.processObjId)) return;
    const follower = followOperation(ctx, {
      operation: op,
      canWrite: Boolean(summary?.canWrite),
      onEnded: () => {
        loadSummary().catch(() => undefined);
        tab?.refresh?.();
        const ended = [...followers.values()].filter((f) => f.ended);
        for (const f of ended.slice(0, Math.max(0, ended.length - ENDED_KEPT))) drop(f.id);
      },
      onDismiss: () => {
        drop(op.processObjId);
        heading.focus();
      },
    });
    followers.set(op.processObjId, follower);
    ops.prepend(follower.el);
    opsHeading.hidden = false;
  }

  /** @param {string} id */
  function drop(id) {
    const f = followers.get(id);
    if (!f) return;
    f.dispose();
    f.el.remove();
    followers.delete(id);
    opsHeading.hidden = followers.size === 0;
  }

  /** Operations queued or running on the processor (also other users'), oldest first. */
  async function findActive() {
    /** @type {OperationView[]} */
    const active = await api.get('/operations', { processor: name, status: 'CREATED,RUNNING', limit: 50 });
    for (const op of active.reverse()) follow(op);
  }

  const unsubscribe = events.subscribe((ev) => {
    if (ev.type === 'reset' || ev.type === 'reconnected') {
      // Something may have been missed: read everything again.
      loadSummary().then(() => tab?.refresh?.(), () => undefined);
      findActive().catch(() => undefined);
      for (const f of followers.values()) f.handle(ev);
      return;
    }
    if (ev.processor !== name) return;
    if (ev.type === 'operation.queued' && ev.operation && !followers.has(ev.operation.processObjId)) follow(ev.operation);
    if (ev.operationId) followers.get(ev.operationId)?.handle(ev);
    tab?.handle?.(ev);
    if (ev.type === 'packages.changed' && followers.size === 0) loadSummary().catch(() => undefined);
  });

  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const poll = () => {
    timer = setTimeout(() => {
      if (disposed) return;
      (events.live ? Promise.resolve() : findActive()).catch(() => undefined).finally(() => {
        if (!disposed) poll();
      });
    }, POLL_MS);
  };

  renderTabs();
  loadSummary().then(() => {
    if (disposed) return;
    showTab();
    return findActive();
  }).catch((err) => {
    if (disposed) return;
    meta.textContent = '';
    panel.append(h('p', { class: 'form-error', role: 'alert' }, `${name} cannot be shown: ${/** @type {Error} */ (err).message}`));
  }).finally(() => {
    if (!disposed) poll();
  });

  return {
    route(next) {
      if (next.name !== 'processor' || next.processor !== name) return false;
      if (next.tab !== tabName || next.operation !== tabOperation) {
        tabName = next.tab;
        tabOperation = next.operation;
        showTab();
        // The history moves the focus to the operation asked for once it has found it.
        panel.querySelector('h2')?.focus();
      }
      return true;
    },
    dispose() {
      disposed = true;
      clearTimeout(timer);
      unsubscribe();
      tab?.dispose();
      for (const f of followers.values()) f.dispose();
    },
  };
}
