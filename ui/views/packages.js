// @ts-check
import { confirmAction } from '../lib/dialog.js';
import { h, newId, plural, replace, whileBusy } from '../lib/dom.js';
import { holdsPath, holdTitle, holdWords, placeHold, releaseHold } from '../lib/holds.js';

/**
 * @typedef {{ packageName: string, currentVersion?: string, latestVersion?: string, currentBuild?: string, channel?: string, managerName?: string }} PackageInfo
 * @typedef {'name' | 'current' | 'latest' | 'status'} SortKey
 */

/** At most this many commands in one operation (procenv refuses more). */
const MAX_COMMANDS = 50;

/** The same rule procenv counts outdated packages by: a latest version other than the installed one. @param {PackageInfo} p */
export function isOutdated(p) {
  return Boolean(p.latestVersion) && p.latestVersion !== p.currentVersion;
}

const byVersion = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** @type {Record<SortKey, (a: PackageInfo, b: PackageInfo) => number>} */
const COMPARE = {
  name: (a, b) => byVersion.compare(a.packageName, b.packageName),
  current: (a, b) => byVersion.compare(a.currentVersion ?? '', b.currentVersion ?? ''),
  latest: (a, b) => byVersion.compare(a.latestVersion ?? '', b.latestVersion ?? ''),
  status: (a, b) => Number(isOutdated(b)) - Number(isOutdated(a)),
};

/** A package's identity as procenv keys holds: pip names as PEP 503 normalises them. @param {'pip' | 'conda' | null} kind @param {string} name */
function holdKeyOf(kind, name) {
  return kind === 'pip' ? name.toLowerCase().replace(/[-_.]+/g, '-') : name;
}

/**
 * The packages tab: the package list with a search box, sorting and an "outdated only" switch, held packages marked
 * with who held them and why; for users who may change the processor, Add (name, optional version), Upgrade and
 * Remove per package (not of a held one), several packages changed in one operation, Refresh and Reset history, and
 * on the main node Hold… and Release…. Nothing the user cannot do is offered.
 * @param {import('../app.js').PanelContext} ctx
 * @param {import('./processor.js').ProcessorActions} actions
 * @returns {import('./processor.js').Tab}
 */
export function renderPackages(ctx, actions) {
  const { api, me } = ctx;
  const row = actions.summary;
  const name = row.name;
  const canWrite = row.canWrite && row.manager !== null;
  const kind = row.manager;
  /** Holds are placed and lifted on the main node only. */
  const canHold = canWrite && me.mainNode;
  /** @type {PackageInfo[]} */
  let packages = [];
  /** The processor's holds by package key. @type {Map<string, import('../lib/holds.js').Hold>} */
  let holds = new Map();
  /** @type {string | null} */
  let loadError = null;
  let loaded = false;
  let disposed = false;
  /** @type {{ key: SortKey, dir: 1 | -1 }} */
  let sort = { key: 'name', dir: 1 };
  /** @type {Set<string>} */
  const selected = new Set();

  /** A button's action, once at a time (whileBusy); an unexpected failure is shown in words. @param {Event} ev @param {() => Promise<unknown>} action */
  const busy = (ev, action) => whileBusy(ev, action, (err) => ctx.notify(`That did not work: ${err.message}`, 'error'));

  const searchId = newId('package-search');
  const search = h('input', { id: searchId, type: 'search', autocomplete: 'off', spellcheck: 'false' });
  const outdatedOnlyId = newId('outdated-only');
  const outdatedOnly = h('input', { id: outdatedOnlyId, type: 'checkbox' });
  const counts = h('p', { class: 'summary', role: 'status', 'aria-live': 'polite' }, 'Loading the packages…');
  const body = h('tbody');
  const headRow = h('tr');
  const table = h('table', { class: 'table packages' }, h('caption', { class: 'visually-hidden' }, `Packages of ${name}`), h('thead', {}, headRow), body);
  const selectionBar = h('div', { class: 'selection-bar', role: 'region', 'aria-label': 'Selected packages', hidden: true });

  const el = h('section', { class: 'packages-tab', 'aria-labelledby': `${searchId}-heading` },
    h('h2', { id: `${searchId}-heading`, tabindex: '-1' }, 'Packages'),
    canWrite ? changeForm() : null,
    h('div', { class: 'toolbar' },
      h('div', { class: 'field' }, h('label', { for: searchId }, 'Search packages'), search),
      h('div', { class: 'field field-inline' }, outdatedOnly, h('label', { for: outdatedOnlyId }, 'Outdated only'))),
    counts,
    selectionBar,
    h('div', { class: 'table-wrap' }, table));

  /** Add, Refresh and Reset: only for users who may change the processor. */
  function changeForm() {
    const nameId = newId('add-name');
    const versionId = newId('add-version');
    const nameInput = h('input', { id: nameId, name: 'package', autocomplete: 'off', spellcheck: 'false', required: true });
    const versionInput = h('input', { id: versionId, name: 'version', autocomplete: 'off', spellcheck: 'false', placeholder: 'latest' });
    const addError = h('p', { class: 'form-error', role: 'alert' });
    const addButton = h('button', { type: 'submit', class: 'button button-primary' }, 'Add');
    const form = h('form', { class: 'add-form', novalidate: true },
      h('fieldset', {},
        h('legend', {}, 'Add a package'),
        h('div', { class: 'field' }, h('label', { for: nameId }, 'Package name'), nameInput),
        h('div', { class: 'field' }, h('label', { for: versionId }, 'Version (optional)'), versionInput),
        addButton),
      addError);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const pkg = nameInput.value.trim();
      const version = versionInput.value.trim();
      if (!pkg) {
        addError.textContent = 'Give the name of the package to add.';
        nameInput.focus();
        return;
      }
      if (pkg.includes('/') || version.includes('/')) {
        addError.textContent = 'A package name or version cannot contain “/”.';
        nameInput.focus();
        return;
      }
      addError.textContent = '';
      addButton.disabled = true;
      // A refusal is shown beside the form, in the API's words: an invalid name, a version pip would not take, a
      // package the index does not know.
      actions.submit([`addPackage/${pkg}/${version ? `${version}/` : ''}`], `${pkg} cannot be added`, (message) => {
        addError.textContent = message;
        nameInput.focus();
      }).then((queued) => {
        addButton.disabled = false;
        if (!queued) return;
        nameInput.value = '';
        versionInput.value = '';
      }).catch(() => undefined);
    });
    const refreshHelp = newId('refresh-help');
    const resetHelp = newId('reset-help');
    return h('div', { class: 'changes' },
      form,
      h('div', { class: 'env-actions' },
        h('button', { type: 'button', class: 'button', 'aria-describedby': refreshHelp, onclick: (/** @type {Event} */ ev) => busy(ev, () => actions.submit([], 'The refresh')) }, 'Refresh package list'),
        h('span', { class: 'help', id: refreshHelp }, 'Reads the installed packages from the environment again.'),
        me.mainNode ? h('button', { type: 'button', class: 'button button-danger-outline', 'aria-describedby': resetHelp, onclick: (/** @type {Event} */ ev) => busy(ev, () => actions.resetHistory()) }, 'Reset history…') : null,
        me.mainNode ? h('span', { class: 'help', id: resetHelp }, 'Starts the list of changes to replay over, empty.') : null));
  }

  function renderHead() {
    /** @param {SortKey} key @param {string} label */
    const sortable = (key, label) => {
      const active = sort.key === key;
      const button = h('button', { type: 'button', class: 'sort', dataset: { focusKey: `sort:${key}` } }, label,
        h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, active ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''));
      button.addEventListener('click', () => {
        sort = { key, dir: active ? /** @type {1 | -1} */ (-sort.dir) : 1 };
        renderHead();
        render();
      });
      return h('th', { scope: 'col', 'aria-sort': active ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none' }, button);
    };
    const all = h('input', { type: 'checkbox', 'aria-label': 'Select all packages shown', dataset: { focusKey: 'select-all' } });
    all.addEventListener('change', () => {
      for (const p of shown()) {
        if (all.checked && !isHeld(p)) selected.add(p.packageName);
        else selected.delete(p.packageName);
      }
      render();
    });
    replace(headRow,
      canWrite ? h('th', { scope: 'col', class: 'select' }, all) : null,
      sortable('name', 'Package'), sortable('current', 'Installed'), sortable('latest', 'Latest'), sortable('status', 'Status'),
      canWrite ? h('th', { scope: 'col', class: 'actions-head' }, 'Actions') : null);
  }

  /** @param {PackageInfo} p */
  function isHeld(p) {
    return holds.has(holdKeyOf(kind, p.packageName));
  }

  function shown() {
    const words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const list = packages.filter((p) => (!outdatedOnly.checked || isOutdated(p)) && words.every((w) => p.packageName.toLowerCase().includes(w)));
    const compare = COMPARE[sort.key];
    return list.sort((a, b) => sort.dir * compare(a, b) || COMPARE.name(a, b));
  }

  function render() {
    if (!loaded) return;
    const focusKey = document.activeElement instanceof HTMLElement && el.contains(document.activeElement) ? document.activeElement.dataset.focusKey : undefined;
    for (const s of [...selected]) if (!packages.some((p) => p.packageName === s && !isHeld(p))) selected.delete(s);
    const list = shown();
    const outdated = packages.filter(isOutdated).length;
    if (loadError) counts.textContent = loadError;
    else if (packages.length === 0) counts.textContent = 'No package list yet.' + (canWrite ? ' “Refresh package list” reads it from the environment.' : '');
    else counts.textContent = `${plural(packages.length, 'package')}, ${outdated} outdated` + (list.length === packages.length ? '.' : ` · ${list.length} shown.`);
    replace(body, list.map(rowOf));
    const all = /** @type {HTMLInputElement | null} */ (headRow.querySelector('input[type=checkbox]'));
    if (all) {
      const selectable = list.filter((p) => !isHeld(p)).length;
      const picked = list.filter((p) => selected.has(p.packageName)).length;
      all.checked = selectable > 0 && picked === selectable;
      all.indeterminate = picked > 0 && picked < selectable;
    }
    renderSelection();
    if (focusKey) {
      const again = /** @type {HTMLElement | null} */ (el.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`));
      (again ?? search).focus();
    }
  }

  /** @param {PackageInfo} p */
  function rowOf(p) {
    const old = isOutdated(p);
    const pkg = p.packageName;
    const hold = holds.get(holdKeyOf(kind, pkg));
    const extra = [p.currentBuild, p.channel].filter(Boolean).join(' · ');
    const checkbox = h('input', { type: 'checkbox', 'aria-label': `Select ${pkg}`, dataset: { focusKey: `select:${pkg}` } });
    checkbox.checked = selected.has(pkg);
    checkbox.addEventListener('change', () => {
      if (checkbox.checked) selected.add(pkg);
      else selected.delete(pkg);
      render();
    });
    return h('tr', { class: old ? 'outdated' : '', dataset: { package: pkg, held: hold ? 'true' : 'false' } },
      // A held package cannot be upgraded or removed: it is not offered for either.
      canWrite ? h('td', { class: 'select' }, hold ? null : checkbox) : null,
      h('th', { scope: 'row', 'data-label': 'Package' }, pkg, extra ? h('span', { class: 'pkg-extra' }, extra) : null),
      h('td', { 'data-label': 'Installed' }, p.currentVersion ?? ''),
      h('td', { 'data-label': 'Latest' }, p.latestVersion ?? ''),
      h('td', { 'data-label': 'Status' }, old ? h('span', { class: 'badge badge-outdated' }, 'outdated') : h('span', { class: 'muted' }, 'current'),
        hold ? [' ', h('span', { class: 'badge badge-held', title: holdTitle(hold) }, 'held'), h('span', { class: 'hold-words' }, holdWords(hold))] : null),
      canWrite ? h('td', { 'data-label': 'Actions' }, h('div', { class: 'row-actions' },
        old && !hold ? h('button', {
          type: 'button', class: 'button button-small', 'aria-label': `Upgrade ${pkg} to ${p.latestVersion}`, dataset: { focusKey: `upgrade:${pkg}` },
          onclick: (/** @type {Event} */ ev) => busy(ev, () => actions.submit([upgradeCommand(p)], `The upgrade of ${pkg}`)),
        }, 'Upgrade') : null,
        hold ? null : h('button', {
          type: 'button', class: 'button button-small button-danger-outline', 'aria-label': `Remove ${pkg}`, dataset: { focusKey: `remove:${pkg}` },
          onclick: (/** @type {Event} */ ev) => busy(ev, () => remove([pkg])),
        }, 'Remove'),
        canHold ? h('button', {
          type: 'button', class: 'button button-small', 'aria-label': `${hold ? 'Release' : 'Hold'} ${pkg}…`, dataset: { focusKey: `hold:${pkg}` },
          onclick: (/** @type {Event} */ ev) => busy(ev, async () => {
            if (hold ? await releaseHold(ctx, name, pkg, hold) : await placeHold(ctx, name, pkg)) await load();
          }),
        }, hold ? 'Release…' : 'Hold…') : null)) : null);
  }

  /** The version the user saw offered, so that what runs (and what compute nodes replay) is what was shown. @param {PackageInfo} p */
  function upgradeCommand(p) {
    return isOutdated(p) ? `upgradePackage/${p.packageName}/${p.latestVersion}/` : `upgradePackage/${p.packageName}/`;
  }

  /** @param {string[]} names */
  async function remove(names) {
    const one = names.length === 1;
    const what = one ? names[0] : plural(names.length, 'package');
    const them = one ? 'it' : 'them';
    const tool = kind === 'conda' ? `conda removes ${them}, with the packages that depend on ${them},` : `pip uninstalls ${them}`;
    const yes = await confirmAction({
      title: `Remove ${what} from ${name}?`,
      body: [
        one ? '' : h('ul', { class: 'dialog-list' }, names.map((n) => h('li', {}, n))),
        `${tool} from the environment of ${name}. Code that imports ${them} stops working. The change is recorded in the history and, from the main node, sent to the compute nodes.`,
      ].filter(Boolean),
      confirm: `Remove ${what}`,
    });
    if (!yes) return;
    if (await actions.submit(names.map((n) => `removePackage/${n}/`), `Removing ${what}`)) {
      for (const n of names) selected.delete(n);
      render();
    }
  }

  function renderSelection() {
    if (!canWrite || selected.size === 0) {
      selectionBar.hidden = true;
      selectionBar.replaceChildren();
      return;
    }
    const names = [...selected].sort((a, b) => byVersion.compare(a, b));
    const list = packages.filter((p) => selected.has(p.packageName));
    const tooMany = names.length > MAX_COMMANDS;
    selectionBar.hidden = false;
    replace(selectionBar,
      h('p', {}, `${plural(names.length, 'package')} selected`, tooMany ? ` (at most ${MAX_COMMANDS} per operation)` : ''),
      h('button', {
        type: 'button', class: 'button button-small', disabled: tooMany, dataset: { focusKey: 'upgrade-selected' },
        onclick: (/** @type {Event} */ ev) => busy(ev, async () => {
          if (!(await actions.submit(list.map(upgradeCommand), `The upgrade of ${plural(names.length, 'package')}`))) return;
          selected.clear();
          render();
        }),
      }, 'Upgrade selected'),
      h('button', { type: 'button', class: 'button button-small button-danger-outline', disabled: tooMany, dataset: { focusKey: 'remove-selected' }, onclick: (/** @type {Event} */ ev) => busy(ev, () => remove(names)) }, 'Remove selected…'),
      h('button', {
        type: 'button', class: 'button button-small', dataset: { focusKey: 'clear-selection' },
        onclick: () => {
          selected.clear();
          render();
          search.focus();
        },
      }, 'Clear selection'));
  }

  async function load() {
    try {
      const [list, held] = await Promise.all([
        api.get('/packageManager/listPackages', { name }),
        // Without its holds the list is still worth showing; it then marks none.
        api.get(holdsPath(name)).catch(() => []),
      ]);
      packages = Array.isArray(list) ? list : [];
      holds = new Map((Array.isArray(held) ? held : []).map((x) => [x.key, x]));
      loadError = null;
    } catch (err) {
      loadError = `The package list cannot be read: ${/** @type {Error} */ (err).message}`;
    }
    if (disposed) return;
    loaded = true;
    render();
  }

  search.addEventListener('input', render);
  outdatedOnly.addEventListener('change', render);
  renderHead();
  load().catch(() => undefined);

  return {
    el,
    refresh() {
      load().catch(() => undefined);
    },
    handle(ev) {
      if (ev.type === 'packages.changed') load().catch(() => undefined);
    },
    dispose() {
      disposed = true;
    },
  };
}
