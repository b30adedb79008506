// @ts-check
import { chooseAndConfirm } from '../lib/dialog.js';
import { whenPart } from '../lib/when.js';
import { h, newId, plural, replace, whileBusy } from '../lib/dom.js';
import { holdsPath, holdTitle, holdWords, placeHold, releaseHold } from '../lib/holds.js';

/**
 * @typedef {{ manager: 'pip' | 'conda', type: string, processors: number, totalPackages: number, uniquePackages: number, outdatedPackages: number, heldPackages: number }} SummaryRow
 * @typedef {{
 *   name: string, manager: 'pip' | 'conda', installed: { processor: string, version: string }[],
 *   upgradable: { processor: string, version: string, latest: string }[], held: { processor: string }[],
 * }} SearchRow
 * @typedef {import('../lib/holds.js').Hold} Hold
 */

const PAGE = 20;
/** Typing in the search box asks procenv once it pauses this long. */
const TYPING_MS = 250;

/** A package's identity as procenv keys holds: pip names as PEP 503 normalises them. @param {'pip' | 'conda'} manager @param {string} name */
function packageKey(manager, name) {
  return manager === 'pip' ? name.toLowerCase().replace(/[-_.]+/g, '-') : name;
}

/**
 * The fleet's packages: the summary per manager and processor type, and a search by name with filters, one row per
 * package and manager saying where it is installed (which version), where a newer one is known and where it is
 * held (by whom, why). Users who may change processors hold and release from a row, and upgrade or remove the
 * package on the processors they choose, as one batch.
 * @param {import('../app.js').PanelContext} ctx
 * @param {import('./fleet.js').Fleet} fleet
 * @returns {import('./processor.js').Tab}
 */
export function renderFleetPackages(ctx, fleet) {
  const { api } = ctx;
  let disposed = false;
  let offset = 0;
  let total = 0;
  /** @type {SearchRow[]} */
  let rows = [];
  let request = 0;
  /** Each processor's holds, by package key, read for the processors a page shows held. @type {Map<string, Map<string, Hold>>} */
  const holds = new Map();

  /** @param {Event} ev @param {() => Promise<unknown>} action */
  const busy = (ev, action) => whileBusy(ev, action, (err) => ctx.notify(`That did not work: ${err.message}`, 'error'));

  const summaryBody = h('tbody');
  const summaryStatus = h('p', { class: 'summary', role: 'status', 'aria-live': 'polite' }, 'Loading the summary…');
  const searchId = newId('fleet-search');
  const search = h('input', { id: searchId, type: 'search', autocomplete: 'off', spellcheck: 'false', placeholder: 'numpy, requests…' });
  /** @param {string} label @param {[string, string][]} options */
  const select = (label, options) => {
    const id = newId('fleet-filter');
    const el = h('select', { id }, options.map(([value, words]) => h('option', { value }, words)));
    return { el, field: h('div', { class: 'field field-narrow' }, h('label', { for: id }, label), el) };
  };
  const manager = select('Manager', [['', 'any'], ['pip', 'pip'], ['conda', 'conda']]);
  const upgradable = select('Updates', [['', 'any'], ['true', 'a newer version somewhere'], ['false', 'up to date everywhere']]);
  const held = select('Holds', [['', 'any'], ['true', 'held somewhere'], ['false', 'held nowhere']]);
  const status = h('p', { class: 'summary search-status', role: 'status', 'aria-live': 'polite' }, 'Searching…');
  const body = h('tbody');
  const previous = h('button', { type: 'button', class: 'button button-small' }, 'Previous page');
  const next = h('button', { type: 'button', class: 'button button-small' }, 'Next page');
  const pager = h('div', { class: 'pager', hidden: true }, previous, next);

  const el = h('section', { class: 'fleet-packages-tab', 'aria-labelledby': 'fleet-packages-heading' },
    h('h2', { id: 'fleet-packages-heading', tabindex: '-1' }, 'Packages'),
    h('section', { 'aria-labelledby': 'fleet-summary-heading' },
      h('h3', { id: 'fleet-summary-heading' }, 'Per manager and processor type'),
      summaryStatus,
      h('div', { class: 'table-wrap' }, h('table', { class: 'table fleet-summary' },
        h('caption', { class: 'visually-hidden' }, 'Packages per manager and processor type'),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, 'Manager'), h('th', { scope: 'col' }, 'Processor type'), h('th', { scope: 'col', class: 'num' }, 'Processors'),
          h('th', { scope: 'col', class: 'num' }, 'Packages'), h('th', { scope: 'col', class: 'num' }, 'Unique'),
          h('th', { scope: 'col', class: 'num' }, 'Outdated'), h('th', { scope: 'col', class: 'num' }, 'Held'))),
        summaryBody))),
    h('section', { 'aria-labelledby': 'fleet-search-heading' },
      h('h3', { id: 'fleet-search-heading' }, 'Find a package'),
      h('div', { class: 'toolbar' },
        h('div', { class: 'field' }, h('label', { for: searchId }, 'Package name'), search),
        manager.field, upgradable.field, held.field),
      status,
      h('div', { class: 'table-wrap' }, h('table', { class: 'table fleet-search' },
        h('caption', { class: 'visually-hidden' }, 'Packages found, with where they are installed'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Package'), h('th', { scope: 'col' }, 'Installed on'), h('th', { scope: 'col', class: 'actions-head' }, 'Change'))),
        body)),
      pager));

  /** @param {SummaryRow[]} list */
  function renderSummary(list) {
    summaryStatus.textContent = list.length === 0 ? 'No processor you can read has packages yet.' : '';
    replace(summaryBody, list.map((r) => h('tr', { dataset: { manager: r.manager, type: r.type } },
      h('th', { scope: 'row', 'data-label': 'Manager' }, r.manager),
      h('td', { 'data-label': 'Type' }, r.type),
      h('td', { class: 'num', 'data-label': 'Processors' }, r.processors),
      h('td', { class: 'num', 'data-label': 'Packages' }, r.totalPackages),
      h('td', { class: 'num', 'data-label': 'Unique' }, r.uniquePackages),
      h('td', { class: 'num', 'data-label': 'Outdated' }, r.outdatedPackages > 0 ? h('span', { class: 'badge badge-outdated' }, String(r.outdatedPackages)) : '0'),
      h('td', { class: 'num', 'data-label': 'Held' }, r.heldPackages > 0 ? h('span', { class: 'badge badge-held' }, String(r.heldPackages)) : '0'))));
  }

  async function loadSummary() {
    try {
      renderSummary(await api.get('/packages/summary'));
    } catch (err) {
      summaryStatus.textContent = `The summary cannot be read: ${/** @type {Error} */ (err).message}`;
    }
  }

  function filters() {
    return { q: search.value.trim(), manager: manager.el.value, upgradable: upgradable.el.value, held: held.el.value };
  }

  /** The page at `offset`, its count, and the holds of the processors it shows held. */
  async function loadSearch() {
    const ticket = ++request;
    const query = filters();
    try {
      const [page, count] = await Promise.all([
        api.get('/packages/search', { ...query, limit: PAGE, offset }),
        api.get('/packages/search/count', query),
      ]);
      await loadHolds(page);
      if (disposed || ticket !== request) return;
      rows = page;
      total = count.total;
      // The last page emptied (a package gone): step back to one that has rows.
      if (rows.length === 0 && offset > 0 && total > 0) {
        offset = Math.max(0, Math.floor((total - 1) / PAGE) * PAGE);
        await loadSearch();
        return;
      }
      renderSearch();
    } catch (err) {
      if (disposed || ticket !== request) return;
      status.textContent = `The packages cannot be searched: ${/** @type {Error} */ (err).message}`;
    }
  }

  /** @param {SearchRow[]} page */
  async function loadHolds(page) {
    const names = new Set(page.flatMap((r) => r.held.map((x) => x.processor)));
    await Promise.all([...names].filter((p) => !holds.has(p)).map(async (p) => {
      try {
        /** @type {Hold[]} */
        const list = await api.get(holdsPath(p));
        holds.set(p, new Map(list.map((x) => [x.key, x])));
      } catch {
        // Shown as "held" without who and why; read again with the next search.
      }
    }));
  }

  function renderSearch() {
    const focusKey = document.activeElement instanceof HTMLElement && body.contains(document.activeElement) ? document.activeElement.dataset.focusKey : undefined;
    const q = search.value.trim();
    if (total === 0) status.textContent = q ? `No package matches “${q}”.` : 'No package matches these filters.';
    else status.textContent = `${plural(total, 'package')}${q ? ` match “${q}”` : ''}; ${offset + 1}–${offset + rows.length} shown.`;
    replace(body, rows.map(rowOf));
    pager.hidden = total <= PAGE;
    previous.disabled = offset === 0;
    next.disabled = offset + PAGE >= total;
    if (focusKey) {
      const again = /** @type {HTMLElement | null} */ (body.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`));
      (again ?? search).focus();
    }
  }

  /** @param {SearchRow} r */
  function rowOf(r) {
    const key = packageKey(r.manager, r.name);
    const newer = new Map(r.upgradable.map((u) => [u.processor, u.latest]));
    const heldOn = new Set(r.held.map((x) => x.processor));
    const writable = r.installed.filter((i) => fleet.canChange(i.processor));
    const id = `${r.manager}:${r.name}`;
    return h('tr', { dataset: { package: r.name, manager: r.manager } },
      h('th', { scope: 'row', 'data-label': 'Package' }, r.name, h('span', { class: 'pkg-extra' }, r.manager)),
      h('td', { 'data-label': 'Installed on' }, h('ul', { class: 'where' }, r.installed.map((i) => {
        const latest = newer.get(i.processor);
        const hold = heldOn.has(i.processor) ? holds.get(i.processor)?.get(key) : undefined;
        const isHeld = heldOn.has(i.processor);
        const canChange = fleet.canChange(i.processor);
        return h('li', { dataset: { processor: i.processor, held: isHeld ? 'true' : 'false' } },
          h('a', { href: `#/p/${encodeURIComponent(i.processor)}` }, i.processor), ' ',
          h('span', { class: 'version' }, i.version),
          latest ? [' ', h('span', { class: 'badge badge-outdated', title: `${latest} is known` }, `→ ${latest}`)] : null,
          isHeld ? [' ', h('span', { class: 'badge badge-held', title: hold ? holdTitle(hold) : 'held' }, 'held')] : null,
          isHeld && hold ? h('span', { class: 'hold-words' }, holdWords(hold)) : null,
          canChange ? h('button', {
            type: 'button', class: 'button button-small', dataset: { focusKey: `hold:${id}:${i.processor}` },
            'aria-label': `${isHeld ? 'Release' : 'Hold'} ${r.name} on ${i.processor}…`,
            onclick: (/** @type {Event} */ ev) => busy(ev, () => (isHeld ? release(r, i.processor, hold) : placeOn(r, i.processor))),
          }, isHeld ? 'Release…' : 'Hold…') : null);
      }))),
      h('td', { 'data-label': 'Change' }, writable.length === 0 ? h('span', { class: 'muted' }, ctx.me.mainNode ? 'read-only for you' : 'batches are made on the main node') : h('div', { class: 'row-actions' },
        h('button', {
          type: 'button', class: 'button button-small', 'aria-label': `Upgrade ${r.name} on processors…`, dataset: { focusKey: `upgrade:${id}` },
          onclick: (/** @type {Event} */ ev) => busy(ev, () => batch(r, 'upgrade')),
        }, 'Upgrade on…'),
        h('button', {
          type: 'button', class: 'button button-small button-danger-outline', 'aria-label': `Remove ${r.name} from processors…`, dataset: { focusKey: `remove:${id}` },
          onclick: (/** @type {Event} */ ev) => busy(ev, () => batch(r, 'remove')),
        }, 'Remove from…'))));
  }

  /** @param {SearchRow} r @param {string} processor */
  async function placeOn(r, processor) {
    const hold = await placeHold(ctx, processor, r.name);
    if (!hold) return;
    holds.delete(processor);
    await Promise.all([loadSearch(), loadSummary()]);
  }

  /** @param {SearchRow} r @param {string} processor @param {Hold | undefined} hold */
  async function release(r, processor, hold) {
    if (!(await releaseHold(ctx, processor, r.name, hold))) return;
    holds.delete(processor);
    await Promise.all([loadSearch(), loadSummary()]);
  }

  /**
   * The package upgraded or removed on the processors the user ticks (those they may change where it is installed;
   * for an upgrade, those with a newer version known are ticked first), as one batch, after saying what it does.
   * @param {SearchRow} r
   * @param {'upgrade' | 'remove'} action
   */
  async function batch(r, action) {
    const newer = new Map(r.upgradable.map((u) => [u.processor, u.latest]));
    const heldOn = new Set(r.held.map((x) => x.processor));
    const choices = r.installed.filter((i) => fleet.canChange(i.processor)).map((i) => ({
      value: i.processor,
      label: [i.processor, ' ', h('span', { class: 'muted' }, `${i.version}${newer.has(i.processor) ? ` → ${newer.get(i.processor)}` : ''}${heldOn.has(i.processor) ? ', held: left alone' : ''}`)],
    }));
    const checked = new Set(choices.map((c) => c.value).filter((p) => !heldOn.has(p) && (action === 'remove' || newer.has(p))));
    const upgrade = action === 'upgrade';
    const when = whenPart(ctx.api);
    const chosen = await chooseAndConfirm({
      title: upgrade ? `Upgrade ${r.name}?` : `Remove ${r.name}?`,
      body: [upgrade
        ? `Each processor chosen gets one operation that upgrades ${r.name} (${r.manager}) to the newest version its index has. Processors where it is held are left alone and say so.`
        : `Each processor chosen gets one operation that removes ${r.name} (${r.manager}) from its environment; code that imports it stops working there. Processors where it is held are left alone and say so.`],
      legend: 'On the processors',
      choices, checked, danger: !upgrade, extra: when,
      confirm: (n) => `${upgrade ? 'Upgrade' : 'Remove'} ${r.name} ${upgrade ? 'on' : 'from'} ${plural(n, 'processor')}`,
    });
    if (!chosen || disposed) return;
    await fleet.startBatch({ processors: chosen, action, packages: [r.name], ...when.value() }, `${upgrade ? 'The upgrade' : 'The removal'} of ${r.name} on ${plural(chosen.length, 'processor')}`);
  }

  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let typing;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      offset = 0;
      loadSearch().catch(() => undefined);
    }, TYPING_MS);
  });
  for (const s of [manager.el, upgradable.el, held.el]) {
    s.addEventListener('change', () => {
      offset = 0;
      loadSearch().catch(() => undefined);
    });
  }
  previous.addEventListener('click', () => {
    offset = Math.max(0, offset - PAGE);
    loadSearch().catch(() => undefined);
  });
  next.addEventListener('click', () => {
    offset += PAGE;
    loadSearch().catch(() => undefined);
  });

  /** A package list changed somewhere: read both again, once for a burst of events. @type {ReturnType<typeof setTimeout> | undefined} */
  let soon;
  const again = () => {
    if (soon) return;
    soon = setTimeout(() => {
      soon = undefined;
      if (disposed) return;
      holds.clear();
      loadSummary().catch(() => undefined);
      loadSearch().catch(() => undefined);
    }, 1_000);
  };

  loadSummary().catch(() => undefined);
  loadSearch().catch(() => undefined);

  return {
    el,
    refresh: again,
    handle(ev) {
      if (ev.type === 'packages.changed') again();
    },
    dispose() {
      disposed = true;
      clearTimeout(typing);
      clearTimeout(soon);
    },
  };
}
