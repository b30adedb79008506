// @ts-check
import { confirmAction } from '../lib/dialog.js';
import { formatTime, h, newId, plural, replace, timeAgo, whileBusy } from '../lib/dom.js';

/**
 * @typedef {{ name: string, version: string, build?: string, channel?: string, requested?: boolean }} GenerationPackage
 * @typedef {{
 *   name: string, from: string, to: string, requested?: boolean,
 *   fromBuild?: string, toBuild?: string, fromChannel?: string, toChannel?: string,
 * }} PackageChange
 * @typedef {{
 *   number: number, processorName: string, manager: { kind: 'pip' | 'conda', version?: string },
 *   cause: 'operation' | 'disk' | 'first-seen', operationId?: string, userId?: string, at: number, hash: string,
 *   packageCount: number,
 * }} GenerationSummary
 * @typedef {{
 *   added: GenerationPackage[], removed: GenerationPackage[], upgraded: PackageChange[], downgraded: PackageChange[],
 *   changed: PackageChange[], orphaned?: GenerationPackage[],
 * }} Changes
 * @typedef {Changes & { from: number, to: number, fromHash: string, toHash: string }} GenerationDiff
 * @typedef {{
 *   planId: string, commands: string[], generation: number, hash: string, resultHash?: string, exact: boolean,
 *   restoreOf?: number, changes: Changes, expiresAt: number,
 * }} Plan
 * @typedef {keyof Changes} ChangeKind
 */

const PAGE = 20;
/** The most generations one request may ask for (GET …/generations?limit=). */
const MAX_LIMIT = 500;
/** Enough of the sha256 to tell generations apart on the page; the whole hash is in the title. */
const SHORT_HASH = 12;

/** @type {Record<ChangeKind, string>} */
const CHANGE_HEADINGS = {
  added: 'Added', removed: 'Removed', upgraded: 'Upgraded', downgraded: 'Downgraded',
  changed: 'Changed (another build, or versions that cannot be ordered)', orphaned: 'No longer needed (they stay installed)',
};
/** @type {ChangeKind[]} */
const DIFF_ORDER = ['added', 'removed', 'upgraded', 'downgraded', 'changed'];
/** A restore mostly goes back: the downgrades first. @type {ChangeKind[]} */
const PLAN_ORDER = ['downgraded', 'upgraded', 'changed', 'added', 'removed', 'orphaned'];

/** "2 upgraded, 1 added", or "no change". @param {Changes} changes */
export function describeChanges(changes) {
  const parts = DIFF_ORDER.filter((kind) => (changes[kind]?.length ?? 0) > 0).map((kind) => `${changes[kind]?.length} ${kind}`);
  return parts.length ? parts.join(', ') : 'no change';
}

/** "1.0 → 2.0", with the builds and channels when they changed (conda). @param {PackageChange} c */
function versions(c) {
  const side = (/** @type {string} */ version, /** @type {string | undefined} */ build, /** @type {string | undefined} */ channel) =>
    [version, build ? `(${build})` : '', channel ? `from ${channel}` : ''].filter(Boolean).join(' ');
  return `${side(c.from, c.fromBuild, c.fromChannel)} → ${side(c.to, c.toBuild, c.toChannel)}`;
}

/** A package with its version, and build and channel for conda. @param {GenerationPackage} p */
function packageVersion(p) {
  return [p.version, p.build ? `(${p.build})` : '', p.channel ? `from ${p.channel}` : ''].filter(Boolean).join(' ');
}

/**
 * The changes as a list per kind, each package with its versions; a package that came in as a dependency is marked.
 * @param {Changes} changes
 * @param {ChangeKind[]} order
 * @param {'h3' | 'h4'} level the headings' level, under the section's own
 */
export function changeGroups(changes, order, level) {
  return order.filter((kind) => (changes[kind]?.length ?? 0) > 0).map((kind) => {
    const list = /** @type {(GenerationPackage | PackageChange)[]} */ (changes[kind] ?? []);
    const headingId = newId('changes');
    return h('section', { class: 'change-group', 'aria-labelledby': headingId, dataset: { change: kind } },
      h(level, { id: headingId }, `${CHANGE_HEADINGS[kind]} (${list.length})`),
      h('ul', { class: 'change-list' }, list.map((p) => h('li', { dataset: { package: p.name } },
        h('strong', {}, p.name), ' ', 'from' in p ? versions(p) : packageVersion(p),
        p.requested === false ? h('span', { class: 'tag' }, 'dependency') : null))));
  });
}

/**
 * The generations tab: every state the environment has been in, newest first (GET /processors/:name/generations),
 * with the cause in words and a short hash; two of them compared; each one exported as the file its manager installs
 * from; and for users who may change the processor, Restore…, which shows the restore's plan (what goes back, the
 * commands) before anything runs. New generations appear as they are recorded.
 * @param {import('../app.js').PanelContext} ctx
 * @param {import('./processor.js').ProcessorActions} actions
 * @returns {import('./processor.js').Tab}
 */
export function renderGenerations(ctx, actions) {
  const { api } = ctx;
  const row = actions.summary;
  const name = row.name;
  const path = `/processors/${encodeURIComponent(name)}`;
  const canWrite = row.canWrite && row.manager !== null;
  /** @type {GenerationSummary[]} newest first, without gaps */
  let generations = [];
  let complete = false;
  let loaded = false;
  let disposed = false;
  /** The pair the user chose to compare; null: the newest against the one before, following new generations. @type {{ from: number, to: number } | null} */
  let choice = null;
  /** The pair whose difference is on the page (a difference between two numbers never changes). */
  let shownPair = '';
  let diffRequest = 0;

  /** A button's action, once at a time (whileBusy); an unexpected failure is shown in words. @param {Event} ev @param {() => Promise<unknown>} action */
  const busy = (ev, action) => whileBusy(ev, action, (err) => ctx.notify(`That did not work: ${err.message}`, 'error'));

  const headingId = newId('generations-heading');
  const status = h('p', { class: 'summary', role: 'status', 'aria-live': 'polite' }, 'Loading the generations…');
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'button', hidden: true }, 'Show older generations');
  const fromId = newId('compare-from');
  const toId = newId('compare-to');
  const fromSelect = h('select', { id: fromId, dataset: { focusKey: 'compare-from' } });
  const toSelect = h('select', { id: toId, dataset: { focusKey: 'compare-to' } });
  const diffStatus = h('p', { class: 'summary', role: 'status', 'aria-live': 'polite' });
  const diffBody = h('div', { class: 'change-groups' });
  const compareHeadingId = newId('compare-heading');
  const compare = h('section', { class: 'compare', 'aria-labelledby': compareHeadingId, hidden: true },
    h('h3', { id: compareHeadingId }, 'Compare two generations'),
    h('div', { class: 'toolbar' },
      h('div', { class: 'field' }, h('label', { for: fromId }, 'From generation'), fromSelect),
      h('div', { class: 'field' }, h('label', { for: toId }, 'To generation'), toSelect)),
    diffStatus,
    diffBody);
  const el = h('section', { class: 'generations-tab', 'aria-labelledby': headingId },
    h('h2', { id: headingId, tabindex: '-1' }, 'Generations'),
    h('p', { class: 'help' }, 'Every state the environment of ', name, ' has been in, newest first. A restore brings one back exactly, after showing what it will change.'),
    status,
    h('div', { class: 'table-wrap' }, h('table', { class: 'table generations' },
      h('caption', { class: 'visually-hidden' }, `Generations of ${name}, newest first`),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Generation'), h('th', { scope: 'col' }, 'Recorded'), h('th', { scope: 'col' }, 'Cause'),
        h('th', { scope: 'col', class: 'num' }, 'Packages'), h('th', { scope: 'col' }, 'Hash'), h('th', { scope: 'col' }, 'Actions'))),
      body)),
    more,
    compare);

  const newest = () => generations[0];

  function render() {
    if (!loaded) return;
    const focusKey = document.activeElement instanceof HTMLElement && body.contains(document.activeElement) ? document.activeElement.dataset.focusKey : undefined;
    const top = newest();
    if (!top) status.textContent = 'No generation yet: the first is recorded by the first change to this environment.';
    else status.textContent = `${plural(top.number, 'generation')}, newest first${complete ? '.' : ` (the ${generations.length} newest shown).`}`;
    more.hidden = complete;
    replace(body, generations.map(rowOf));
    renderCompare();
    if (focusKey) refocus(focusKey);
  }

  /** The control named by its focus key again, after the table was built anew; the heading when it is gone. @param {string} focusKey */
  function refocus(focusKey) {
    const again = /** @type {HTMLElement | null} */ (body.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`));
    (again ?? /** @type {HTMLElement} */ (el.querySelector('h2'))).focus();
  }

  /** @param {GenerationSummary} g */
  function rowOf(g) {
    const top = newest();
    const current = g === top;
    const asNow = !current && g.hash === top?.hash;
    const file = g.manager.kind === 'conda' ? 'environment.yml' : 'requirements.txt';
    return h('tr', { dataset: { generation: String(g.number), hash: g.hash } },
      h('th', { scope: 'row', 'data-label': 'Generation' }, String(g.number),
        current ? h('span', { class: 'tag' }, 'current') : asNow ? h('span', { class: 'tag' }, 'same packages as now') : null),
      h('td', { 'data-label': 'Recorded' }, h('span', {}, formatTime(g.at), h('span', { class: 'muted' }, ' (', timeAgo(g.at), ')'))),
      h('td', { 'data-label': 'Cause' }, causeOf(g)),
      h('td', { class: 'num', 'data-label': 'Packages' }, g.packageCount),
      h('td', { 'data-label': 'Hash' }, h('code', { title: g.hash }, g.hash.slice(0, SHORT_HASH))),
      h('td', { 'data-label': 'Actions' }, h('div', { class: 'row-actions' },
        h('button', {
          type: 'button', class: 'button button-small', 'aria-label': `Export generation ${g.number} as ${file}`, dataset: { focusKey: `export:${g.number}` },
          onclick: (/** @type {Event} */ ev) => busy(ev, () => exportFile(g)),
        }, 'Export'),
        // Nothing to bring back to the state the environment is in.
        canWrite && !current && !asNow ? h('button', {
          type: 'button', class: 'button button-small', 'aria-label': `Restore generation ${g.number}…`, dataset: { focusKey: `restore:${g.number}` },
          onclick: (/** @type {Event} */ ev) => busy(ev, () => restore(g)),
        }, 'Restore…') : null)));
  }

  /** @param {GenerationSummary} g */
  function causeOf(g) {
    if (g.cause === 'disk') return h('span', { title: 'packagesInfo.json was rewritten by another hand' }, 'seen on disk');
    if (g.cause === 'first-seen') return h('span', { title: 'the package list procenv found the processor with' }, 'first seen');
    const words = `change by ${g.userId ?? 'an unknown user'}`;
    if (!g.operationId) return words;
    return h('a', { href: `#/p/${encodeURIComponent(name)}/history/${encodeURIComponent(g.operationId)}`, title: 'The operation in the history' }, words);
  }

  /** The two selects (every number down to 1: numbers have no gaps), then the difference they name. */
  function renderCompare() {
    const top = newest();
    compare.hidden = !top || top.number < 2;
    if (!top || top.number < 2) return;
    if (choice && (choice.from > top.number || choice.to > top.number)) choice = null;
    const pair = choice ?? { from: top.number - 1, to: top.number };
    const byNumber = new Map(generations.map((g) => [g.number, g]));
    /** @param {number} n */
    const label = (n) => {
      const g = byNumber.get(n);
      return g ? `Generation ${n} · ${formatTime(g.at)}` : `Generation ${n}`;
    };
    for (const [select, selected] of /** @type {[HTMLSelectElement, number][]} */ ([[fromSelect, pair.from], [toSelect, pair.to]])) {
      const options = [];
      for (let n = top.number; n >= 1; n--) options.push(h('option', { value: String(n) }, label(n)));
      replace(select, options);
      select.value = String(selected);
    }
    loadDiff(pair).catch(() => undefined);
  }

  /** @param {{ from: number, to: number }} pair */
  async function loadDiff(pair) {
    const key = `${pair.from}-${pair.to}`;
    if (key === shownPair) return;
    shownPair = key;
    const ticket = ++diffRequest;
    if (pair.from === pair.to) {
      diffStatus.textContent = 'Choose two different generations to compare.';
      diffBody.replaceChildren();
      return;
    }
    diffStatus.textContent = `Comparing generation ${pair.from} with generation ${pair.to}…`;
    try {
      /** @type {GenerationDiff} */
      const diff = await api.get(`${path}/generations/diff`, { from: pair.from, to: pair.to });
      if (disposed || ticket !== diffRequest) return;
      const same = diff.fromHash === diff.toHash;
      diffStatus.textContent = same
        ? `Generations ${diff.from} and ${diff.to} have the same packages.`
        : `From generation ${diff.from} to generation ${diff.to}: ${describeChanges(diff)}.`;
      replace(diffBody, changeGroups(diff, DIFF_ORDER, 'h4'));
    } catch (err) {
      if (disposed || ticket !== diffRequest) return;
      shownPair = '';
      diffStatus.textContent = `The generations cannot be compared: ${/** @type {Error} */ (err).message}`;
      diffBody.replaceChildren();
    }
  }

  function chosen() {
    choice = { from: Number(fromSelect.value), to: Number(toSelect.value) };
    loadDiff(choice).catch(() => undefined);
  }

  /** Saves the file the manager installs from: the export needs the session header, so it comes through a Blob. @param {GenerationSummary} g */
  async function exportFile(g) {
    const format = g.manager.kind === 'conda' ? 'environment' : 'requirements';
    let file;
    try {
      file = await api.download(`${path}/generations/${g.number}/export`, { format });
    } catch (err) {
      ctx.notify(`Generation ${g.number} cannot be exported: ${/** @type {Error} */ (err).message}`, 'error');
      return;
    }
    const url = URL.createObjectURL(file.blob);
    const link = h('a', { href: url, download: file.filename, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    // The browser has the file once the click is handled; the URL is let go a little later.
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  /**
   * Restore…: the restore's plan first (nothing runs), shown in a dialog with what will change and the commands;
   * confirmed, the plan runs as one operation, which the processor view follows.
   * @param {GenerationSummary} g
   */
  async function restore(g) {
    const n = g.number;
    const already = `${name} already has the packages of generation ${n}: there is nothing to restore.`;
    /** @type {Plan} */
    let plan;
    try {
      plan = await api.request('POST', `${path}/generations/${n}/restore`, { query: { plan: 'true' } });
    } catch (err) {
      const e = /** @type {import('../lib/api.js').ApiError} */ (err);
      if (e.code === 'NOTHING_TO_RESTORE') ctx.notify(already);
      else ctx.notify(`The restore of generation ${n} cannot be planned: ${e.message}`, 'error');
      return;
    }
    if (disposed) return;
    if (plan.commands.length === 0) {
      ctx.notify(already);
      load().catch(() => undefined);
      return;
    }
    const yes = await confirmAction({
      title: `Restore generation ${n} of ${name}?`,
      body: [
        `The environment goes back to exactly the packages of generation ${n}, recorded ${formatTime(g.at)}: ${describeChanges(plan.changes)}. `
          + 'Each package is installed at its version without its dependencies, so nothing else moves.',
        ...changeGroups(plan.changes, PLAN_ORDER, 'h3'),
        h('h3', {}, 'Commands'),
        h('ul', { class: 'commands dialog-list' }, plan.commands.map((c) => h('li', {}, h('code', {}, c)))),
        `Planned on generation ${plan.generation}. If the environment changes before this runs, nothing runs, and you are asked to plan again.`,
      ],
      confirm: `Restore generation ${n}`,
    });
    if (disposed) return;
    // The dialog gives the focus back to Restore…, unless the table was built anew while it was open.
    if (!el.contains(document.activeElement)) refocus(`restore:${n}`);
    if (!yes) return;
    try {
      actions.follow(await api.post(`/plans/${encodeURIComponent(plan.planId)}/execute`));
      ctx.notify(`The restore of generation ${n} is queued; it is followed above.`, 'success');
    } catch (err) {
      const e = /** @type {import('../lib/api.js').ApiError} */ (err);
      if (e.code === 'STALE_PLAN') {
        const since = e.details?.changedSince ? `: ${describeChanges(e.details.changedSince)}` : '';
        const now = e.details?.currentGeneration ? ` (it is generation ${e.details.currentGeneration} now${since})` : '';
        ctx.notify(`Nothing was run: the environment of ${name} changed since the plan was made${now}. Choose Restore… again for a new plan.`, 'error');
        load().catch(() => undefined);
      } else {
        ctx.notify(`The restore of generation ${n} could not be queued: ${e.message}`, 'error');
      }
    }
  }

  /**
   * Reads the generations again, as many as are shown (older: the next page). Numbers have no gaps, so the list is
   * complete once it reaches generation 1.
   * @param {boolean} [older]
   */
  async function load(older = false) {
    try {
      /** @type {GenerationSummary[]} */
      const page = await api.get(`${path}/generations`, older
        ? { limit: PAGE, offset: generations.length }
        : { limit: Math.min(MAX_LIMIT, Math.max(PAGE, generations.length)), offset: 0 });
      if (disposed) return;
      if (older) generations = generations.concat(page.filter((g) => !generations.some((x) => x.number === g.number)));
      else generations = page.concat(generations.filter((g) => g.number < (page.at(-1)?.number ?? 0)));
      complete = generations.length === 0 || generations.at(-1)?.number === 1;
      loaded = true;
      render();
    } catch (err) {
      status.textContent = `The generations cannot be read: ${/** @type {Error} */ (err).message}`;
    }
  }

  fromSelect.addEventListener('change', chosen);
  toSelect.addEventListener('change', chosen);
  more.addEventListener('click', () => {
    load(true).catch(() => undefined);
  });
  load().catch(() => undefined);

  return {
    el,
    refresh() {
      load().catch(() => undefined);
    },
    handle(ev) {
      if (ev.type !== 'generation.recorded' || !ev.generation || !loaded) return;
      /** @type {GenerationSummary} */
      const g = ev.generation;
      if (generations.some((x) => x.number === g.number)) return;
      // The next one: shown from the event. A gap (an event missed): read the list again.
      if (g.number === (newest()?.number ?? 0) + 1) {
        generations.unshift(g);
        render();
      } else {
        load().catch(() => undefined);
      }
    },
    dispose() {
      disposed = true;
    },
  };
}
