// @ts-check
import { confirmAction } from '../lib/dialog.js';
import { whenPart } from '../lib/when.js';
import { h, newId, plural, replace, timeAgo, whileBusy } from '../lib/dom.js';

/**
 * @typedef {{ package: string, current: string, available: string, type: 'security' | 'regular', advisories?: string[], fixedVersion?: string }} UpdateRow
 * @typedef {{ processor: string, type: string, manager: 'pip' | 'conda', checkedAt?: string, counts: { security: number, regular: number }, updates: UpdateRow[] }} ProcessorUpdates
 */

/** While a check runs and no event stream says when it ends, the list is read again this often. */
const POLL_MS = 3_000;

/** Security updates first, then by name. @param {UpdateRow} a @param {UpdateRow} b */
function securityFirst(a, b) {
  return Number(b.type === 'security') - Number(a.type === 'security') || a.package.localeCompare(b.package, 'en', { sensitivity: 'base' });
}

/** "2 security updates, 3 others", "no update". @param {{ security: number, regular: number }} counts */
export function describeCounts(counts) {
  const parts = [];
  if (counts.security) parts.push(plural(counts.security, 'security update'));
  if (counts.regular) parts.push(counts.security ? `${counts.regular} other${counts.regular === 1 ? '' : 's'}` : plural(counts.regular, 'update'));
  return parts.length ? parts.join(', ') : 'no update';
}

/**
 * The updates of each processor the user can read (GET /updates), security ones marked and counted first. Users
 * who may change processors check for newer versions (POST /updates/check) and upgrade everything outdated, on
 * one processor or on those they select, as a batch (upgrade-all), after saying what it does.
 * @param {import('../app.js').PanelContext} ctx
 * @param {import('./fleet.js').Fleet} fleet
 * @returns {import('./processor.js').Tab}
 */
export function renderFleetUpdates(ctx, fleet) {
  const { api, events } = ctx;
  let disposed = false;
  let loaded = false;
  /** @type {ProcessorUpdates[]} */
  let list = [];
  /** Processors ticked for a check or an upgrade of everything. @type {Set<string>} */
  const selected = new Set();
  /** The check operations queued from this page that have not ended, by operation id → processor. @type {Map<string, string>} */
  const checking = new Map();

  /** @param {Event} ev @param {() => Promise<unknown>} action */
  const busy = (ev, action) => whileBusy(ev, action, (err) => ctx.notify(`That did not work: ${err.message}`, 'error'));

  const securityOnlyId = newId('security-only');
  const securityOnly = h('input', { id: securityOnlyId, type: 'checkbox' });
  const showAllId = newId('show-all');
  const showAll = h('input', { id: showAllId, type: 'checkbox' });
  const status = h('p', { class: 'summary', role: 'status', 'aria-live': 'polite' }, 'Loading the updates…');
  const selectionBar = h('div', { class: 'selection-bar', role: 'region', 'aria-label': 'Selected processors', hidden: true });
  const cards = h('div', { class: 'update-cards' });
  const anyWritable = () => [...fleet.processors.keys()].some((p) => fleet.canChange(p));
  const checkAll = h('button', { type: 'button', class: 'button' }, 'Check for updates on all you can change');
  const el = h('section', { class: 'fleet-updates-tab', 'aria-labelledby': 'fleet-updates-heading' },
    h('h2', { id: 'fleet-updates-heading', tabindex: '-1' }, 'Updates'),
    h('p', { class: 'help' }, 'Newer versions found by the last check of each processor. A check asks each package manager again; it runs as an operation of the processor.',
      ctx.me.mainNode ? '' : ' Checks and upgrades are started on the main node, which sends them on to this one.'),
    h('div', { class: 'toolbar' },
      h('div', { class: 'field field-inline' }, securityOnly, h('label', { for: securityOnlyId }, 'Security updates only')),
      h('div', { class: 'field field-inline' }, showAll, h('label', { for: showAllId }, 'Also processors without updates')),
      anyWritable() ? checkAll : null),
    status,
    selectionBar,
    cards);

  function render() {
    if (!loaded) return;
    const focusKey = document.activeElement instanceof HTMLElement && el.contains(document.activeElement) ? document.activeElement.dataset.focusKey : undefined;
    for (const p of [...selected]) if (!list.some((u) => u.processor === p && fleet.canChange(p))) selected.delete(p);
    const security = list.reduce((n, u) => n + u.counts.security, 0);
    const regular = list.reduce((n, u) => n + u.counts.regular, 0);
    if (list.length === 0) status.textContent = securityOnly.checked ? 'No processor you can read has a security update.' : 'Every processor you can read is up to date, as far as the last checks know.';
    else status.textContent = `${describeCounts({ security, regular })} on ${plural(list.filter((u) => u.updates.length).length, 'processor')}.`;
    replace(cards, list.map(cardOf));
    renderSelection();
    if (focusKey) {
      const again = /** @type {HTMLElement | null} */ (el.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`));
      again?.focus();
    }
  }

  /** @param {ProcessorUpdates} u */
  function cardOf(u) {
    const name = u.processor;
    const canChange = fleet.canChange(name);
    const headingId = newId('updates-of');
    const box = h('input', { type: 'checkbox', 'aria-label': `Select ${name}`, dataset: { focusKey: `select:${name}` } });
    box.checked = selected.has(name);
    box.addEventListener('change', () => {
      if (box.checked) selected.add(name);
      else selected.delete(name);
      renderSelection();
    });
    const isChecking = [...checking.values()].includes(name);
    const rows = [...u.updates].sort(securityFirst);
    return h('section', { class: 'update-card', 'aria-labelledby': headingId, dataset: { processor: name } },
      h('div', { class: 'update-card-head' },
        canChange && u.updates.length ? box : null,
        h('h3', { id: headingId }, h('a', { href: `#/p/${encodeURIComponent(name)}` }, name)),
        h('span', { class: 'update-counts' },
          u.counts.security ? h('span', { class: 'badge badge-security' }, plural(u.counts.security, 'security update')) : null,
          u.counts.regular ? h('span', { class: 'badge badge-outdated' }, u.counts.security ? `${u.counts.regular} other${u.counts.regular === 1 ? '' : 's'}` : plural(u.counts.regular, 'update')) : null,
          u.updates.length === 0 ? h('span', { class: 'muted' }, 'up to date') : null)),
      h('p', { class: 'op-meta' }, `${u.manager} · ${u.type} · `,
        u.checkedAt ? ['checked ', timeAgo(Date.parse(u.checkedAt))] : 'never checked',
        isChecking ? h('span', { class: 'tag' }, 'check queued') : null),
      canChange ? h('div', { class: 'row-actions' },
        h('button', {
          type: 'button', class: 'button button-small', 'aria-label': `Check for updates of ${name}`, dataset: { focusKey: `check:${name}` },
          onclick: (/** @type {Event} */ ev) => busy(ev, () => check([name])),
        }, 'Check for updates'),
        u.counts.security ? h('button', {
          type: 'button', class: 'button button-small', 'aria-label': `Install the security updates of ${name}…`, dataset: { focusKey: `security:${name}` },
          onclick: (/** @type {Event} */ ev) => busy(ev, () => securityUpdates(u)),
        }, 'Security updates only…') : null,
        u.updates.length ? h('button', {
          type: 'button', class: 'button button-small button-primary', 'aria-label': `Upgrade all of ${name}…`, dataset: { focusKey: `upgrade-all:${name}` },
          onclick: (/** @type {Event} */ ev) => busy(ev, () => upgradeAll([name])),
        }, 'Upgrade all…') : null) : null,
      rows.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table updates' },
        h('caption', { class: 'visually-hidden' }, `Updates of ${name}, security updates first`),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Package'), h('th', { scope: 'col' }, 'Installed'), h('th', { scope: 'col' }, 'Available'), h('th', { scope: 'col' }, 'Kind'))),
        h('tbody', {}, rows.map((r) => h('tr', { dataset: { package: r.package, type: r.type } },
          h('th', { scope: 'row', 'data-label': 'Package' }, r.package),
          h('td', { 'data-label': 'Installed' }, r.current),
          h('td', { 'data-label': 'Available' }, r.available, r.fixedVersion && r.fixedVersion !== r.available ? h('span', { class: 'pkg-extra' }, `fixed in ${r.fixedVersion}`) : null),
          h('td', { 'data-label': 'Kind' }, r.type === 'security'
            ? [h('span', { class: 'badge badge-security' }, 'security'), r.advisories?.length ? h('span', { class: 'pkg-extra' }, r.advisories.join(', ')) : null]
            : h('span', { class: 'muted' }, 'newer version'))))))) : null);
  }

  function renderSelection() {
    if (selected.size === 0) {
      selectionBar.hidden = true;
      selectionBar.replaceChildren();
      return;
    }
    const names = [...selected].sort();
    selectionBar.hidden = false;
    replace(selectionBar,
      h('p', {}, `${plural(names.length, 'processor')} selected`),
      h('button', { type: 'button', class: 'button button-small', dataset: { focusKey: 'check-selected' }, onclick: (/** @type {Event} */ ev) => busy(ev, () => check(names)) }, 'Check selected'),
      h('button', { type: 'button', class: 'button button-small button-primary', dataset: { focusKey: 'upgrade-selected' }, onclick: (/** @type {Event} */ ev) => busy(ev, () => upgradeAll(names)) }, 'Upgrade all on selected…'),
      h('button', {
        type: 'button', class: 'button button-small', dataset: { focusKey: 'clear-selection' },
        onclick: () => {
          selected.clear();
          render();
        },
      }, 'Clear selection'));
  }

  /**
   * Queues a refresh of each processor named (none: every one the user can change). The page marks them until
   * their operations end, then reads the updates again.
   * @param {string[] | undefined} names
   */
  async function check(names) {
    /** @type {{ results: ({ processor: string, operationId: string } | { processor: string, refused: { code: string, message: string } })[] }} */
    const answer = await api.post('/updates/check', names ? { processors: names } : undefined);
    const queued = [];
    for (const r of answer.results) {
      if ('operationId' in r) {
        checking.set(r.operationId, r.processor);
        queued.push(r.processor);
      } else {
        ctx.notify(`${r.processor} cannot be checked: ${r.refused.message}`, 'error');
      }
    }
    if (queued.length) ctx.notify(`A check for updates is queued for ${queued.length <= 3 ? queued.join(', ') : plural(queued.length, 'processor')}.`, 'success');
    else if (!names) ctx.notify('There is no processor you can change to check.');
    render();
    schedule();
  }

  /** Every outdated package of the processors named, upgraded as one batch, after saying what it does. @param {string[]} names */
  async function upgradeAll(names) {
    const of = list.filter((u) => names.includes(u.processor));
    const count = of.reduce((n, u) => n + u.updates.length, 0);
    const one = of.length === 1 ? of[0] : undefined;
    const when = whenPart(api);
    const yes = await confirmAction({
      title: one ? `Upgrade all outdated packages of ${one.processor}?` : `Upgrade all outdated packages on ${plural(of.length, 'processor')}?`,
      body: [
        one
          ? `${plural(count, 'package')} of ${one.processor} go to the newer version its last check found, in one operation:`
          : `${plural(count, 'package')} go to the newer versions the last checks found, one operation per processor:`,
        h('ul', { class: 'dialog-list' }, one
          ? [...one.updates].sort(securityFirst).map((r) => h('li', {}, h('strong', {}, r.package), ` ${r.current} → ${r.available}`, r.type === 'security' ? ' (security)' : ''))
          : of.map((u) => h('li', {}, h('strong', {}, u.processor), `: ${describeCounts(u.counts)}`))),
        'Held packages are left alone, and the batch names them. The changes are recorded in each history and, from the main node, sent to the compute nodes.',
        when.el,
      ],
      check: when.check,
      confirm: one ? `Upgrade ${plural(count, 'package')}` : `Upgrade on ${plural(of.length, 'processor')}`, danger: false,
    });
    if (!yes || disposed) return;
    if (await fleet.startBatch({ processors: of.map((u) => u.processor), action: 'upgrade-all', ...when.value() }, one ? `The upgrade of everything outdated on ${one.processor}` : `The upgrade of everything outdated on ${plural(of.length, 'processor')}`)) {
      for (const n of names) selected.delete(n);
    }
  }

  /**
   * Only the packages with advisories, each to the lowest version that clears them all (a batch `security`), after
   * saying which.
   * @param {ProcessorUpdates} u
   */
  async function securityUpdates(u) {
    const fixes = u.updates.filter((r) => r.type === 'security');
    const when = whenPart(api);
    const yes = await confirmAction({
      title: `Install the security updates of ${u.processor}?`,
      body: [
        `${plural(fixes.length, 'package')} of ${u.processor} go to the lowest version that clears their advisories, in one operation; nothing else changes:`,
        h('ul', { class: 'dialog-list' }, fixes.map((r) => h('li', {}, h('strong', {}, r.package), ` ${r.current} → ${r.fixedVersion ?? r.available}`, r.advisories?.length ? ` (${r.advisories.join(', ')})` : ''))),
        'Held packages are left alone, and the batch names them.',
        when.el,
      ],
      check: when.check,
      confirm: `Install ${plural(fixes.length, 'security update')}`, danger: false,
    });
    if (!yes || disposed) return;
    await fleet.startBatch({ processors: [u.processor], action: 'security', ...when.value() }, `The security updates of ${u.processor}`);
  }

  async function load() {
    try {
      list = await api.get('/updates', { all: showAll.checked ? 'true' : undefined, security: securityOnly.checked ? 'true' : undefined });
      loaded = true;
      if (!disposed) render();
    } catch (err) {
      status.textContent = `The updates cannot be read: ${/** @type {Error} */ (err).message}`;
    }
  }

  /** Without the stream, the page asks whether the checks it queued have ended. @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  function schedule() {
    clearTimeout(timer);
    if (disposed || checking.size === 0 || events.live) return;
    timer = setTimeout(async () => {
      for (const id of [...checking.keys()]) {
        try {
          const op = await api.get(`/operations/${encodeURIComponent(id)}`);
          if (op.status === 'DONE' || op.status === 'ERROR' || op.status === 'STOPPED') checking.delete(id);
        } catch {
          checking.delete(id);
        }
      }
      await load();
      schedule();
    }, POLL_MS);
  }

  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let soon;
  const again = () => {
    if (soon) return;
    soon = setTimeout(() => {
      soon = undefined;
      if (!disposed) load().catch(() => undefined);
    }, 500);
  };

  securityOnly.addEventListener('change', () => {
    load().catch(() => undefined);
  });
  showAll.addEventListener('change', () => {
    load().catch(() => undefined);
  });
  checkAll.addEventListener('click', (ev) => busy(ev, () => check(undefined)));
  load().catch(() => undefined);

  return {
    el,
    refresh: again,
    handle(ev) {
      if (ev.type === 'operation.ended' && ev.operationId && checking.delete(ev.operationId)) again();
      else if (ev.type === 'packages.changed') again();
    },
    dispose() {
      disposed = true;
      clearTimeout(timer);
      clearTimeout(soon);
    },
  };
}
