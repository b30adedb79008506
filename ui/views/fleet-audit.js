// @ts-check
import { confirmAction } from '../lib/dialog.js';
import { formatTime, h, newId, plural, replace, timeAgo, whileBusy } from '../lib/dom.js';
import { localToIso, whenPart } from '../lib/when.js';

/**
 * @typedef {{ id: string, aliases: string[], summary: string, severity?: string, fixed: string[], ignoredBy?: IgnoreRule }} FindingAdvisory
 * @typedef {{ package: string, manager: 'pip' | 'conda', version: string, advisories: FindingAdvisory[], fixedVersion?: string }} Finding
 * @typedef {{ processor: string, type: string, manager: 'pip' | 'conda', findings: Finding[] }} ProcessorFindings
 * @typedef {{ file: string, reason: string }} SkippedFile
 * @typedef {{ configured: false } | {
 *   configured: true, source: 'folder' | 'zip', name: string, loading: boolean, loadedAt?: number, advisories: number,
 *   packages: number, files: number, skipped: SkippedFile[], skippedCount: number, lastError?: { at: number, message: string },
 * }} DatabaseState
 * @typedef {{ database: DatabaseState, processors: ProcessorFindings[], totals: { processors: number, packages: number, advisories: number } }} FleetAudit
 * @typedef {{ id: string, advisory: string, package?: string, processor?: string, reason: string, userId: string, createdAt: number, expiresAt: number, active: boolean }} IgnoreRule
 */

const LEVELS = ['CRITICAL', 'HIGH', 'MODERATE', 'LOW'];
/** An ignore rule lasts at most this long (src/domain/audit-ignores.ts MAX_IGNORE_DAYS). */
const MAX_IGNORE_DAYS = 3 * 366;
/** While the database loads, the audit is read again this often. */
const LOADING_POLL_MS = 2_000;

/** "1 advisory", "2 advisories". @param {number} n */
function countAdvisories(n) {
  return `${n} ${n === 1 ? 'advisory' : 'advisories'}`;
}

/** A severity as a badge: its level in words, or "CVSS" with the vector in the title. @param {string | undefined} severity */
function severityBadge(severity) {
  const level = severity?.toUpperCase() === 'MEDIUM' ? 'MODERATE' : severity?.toUpperCase();
  if (level && LEVELS.includes(level)) return h('span', { class: `badge badge-sev-${level.toLowerCase()}` }, level.toLowerCase());
  if (severity) return h('span', { class: 'badge badge-sev-unrated', title: severity }, 'CVSS');
  return h('span', { class: 'badge badge-sev-unrated' }, 'unrated');
}

/** `YYYY-MM-DD` of a time, in the browser's zone. @param {number} ms */
function localDate(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/**
 * The vulnerability audit of every processor the user can read (GET /audit): the advisory database's state, the
 * installed packages that advisories affect with the version that clears them, filters, and the ignore rules
 * (GET /audit/ignores). Users who may change a processor fix it (a `security` batch, main node only) and ignore
 * an advisory on it for a while, with a reason; admins also for every processor.
 * @param {import('../app.js').PanelContext} ctx
 * @param {import('./fleet.js').Fleet} fleet
 * @returns {import('./processor.js').Tab}
 */
export function renderFleetAudit(ctx, fleet) {
  const { api, me } = ctx;
  let disposed = false;
  /** @type {FleetAudit | null} */
  let audit = null;
  /** @type {IgnoreRule[]} */
  let rules = [];

  /** @param {Event} ev @param {() => Promise<unknown>} action */
  const busy = (ev, action) => whileBusy(ev, action, (err) => ctx.notify(`That did not work: ${err.message}`, 'error'));
  /** Ignore rules are made by those who may change the processor, on any node. @param {string} name */
  const canIgnore = (name) => Boolean(fleet.processors.get(name)?.canWrite);

  const severityId = newId('audit-severity');
  const severity = h('select', { id: severityId },
    h('option', { value: '' }, 'Any'),
    h('option', { value: 'CRITICAL' }, 'Critical'),
    h('option', { value: 'CRITICAL,HIGH' }, 'High or critical'),
    h('option', { value: 'CRITICAL,HIGH,MODERATE' }, 'Moderate or worse'),
    h('option', { value: 'LOW' }, 'Low'));
  const packageId = newId('audit-package');
  const pkg = h('input', { id: packageId, type: 'search', autocomplete: 'off', maxlength: '200', placeholder: 'any' });
  const processorId = newId('audit-processor');
  const processor = h('select', { id: processorId }, h('option', { value: '' }, 'Any'),
    [...fleet.processors.keys()].sort().map((n) => h('option', { value: n }, n)));
  const ignoredId = newId('audit-ignored');
  const ignored = h('input', { id: ignoredId, type: 'checkbox' });
  const database = h('div', { class: 'audit-database', role: 'status' }, 'Reading the audit…');
  const status = h('p', { class: 'summary', role: 'status', 'aria-live': 'polite' });
  const fixAllSlot = h('div', { class: 'row-actions' });
  const cards = h('div', { class: 'update-cards' });
  const rulesList = h('div', { class: 'audit-rules' });
  const el = h('section', { class: 'fleet-audit-tab', 'aria-labelledby': 'fleet-audit-heading' },
    h('h2', { id: 'fleet-audit-heading', tabindex: '-1' }, 'Audit'),
    h('p', { class: 'help' }, 'Installed packages that known advisories affect, from procenv\'s offline advisory database, with the lowest version that clears them (the security target).',
      me.mainNode ? '' : ' Fixes are started on the main node, which sends them on to this one.'),
    database,
    h('div', { class: 'toolbar' },
      h('div', { class: 'field' }, h('label', { for: severityId }, 'Severity'), severity),
      h('div', { class: 'field' }, h('label', { for: packageId }, 'Package'), pkg),
      h('div', { class: 'field' }, h('label', { for: processorId }, 'Processor'), processor),
      h('div', { class: 'field field-inline' }, ignored, h('label', { for: ignoredId }, 'Show ignored advisories'))),
    status,
    fixAllSlot,
    cards,
    h('h3', { id: 'audit-rules-heading' }, 'Ignore rules'),
    h('p', { class: 'help' }, 'An ignore rule hides an advisory until it expires; expired rules are kept here and hide nothing.'),
    rulesList);

  /** @param {DatabaseState} db */
  function describeDatabase(db) {
    if (!db.configured) {
      return [h('p', {}, h('strong', {}, 'No advisory database is configured'), ', so the audit finds nothing.'),
        h('p', { class: 'help' }, 'An administrator names a folder of OSV JSON files, or a .zip of them (PyPI\'s OSV export), in the ',
          h('code', {}, 'advisories'), ' configuration key or the ', h('code', {}, 'PROCENV_ADVISORIES'), ' variable; procenv reloads it when it changes.')];
    }
    const parts = [];
    if (db.loading && db.loadedAt === undefined) {
      parts.push(h('p', {}, `The advisory database ${db.name} is being loaded…`));
    } else {
      parts.push(h('p', {}, `Advisory database ${db.name} (${db.source}): ${countAdvisories(db.advisories)} on ${plural(db.packages, 'package')} from ${plural(db.files, 'file')}`,
        db.loadedAt !== undefined ? [', loaded ', timeAgo(db.loadedAt)] : '', db.loading ? '; reloading…' : '.'));
    }
    if (db.skippedCount) {
      parts.push(h('details', { class: 'audit-skipped' },
        h('summary', {}, `${plural(db.skippedCount, 'file')} skipped`),
        h('ul', {}, db.skipped.map((s) => h('li', {}, h('code', {}, s.file), ` — ${s.reason}`)),
          db.skippedCount > db.skipped.length ? h('li', {}, `and ${db.skippedCount - db.skipped.length} more (the log names them)`) : null)));
    }
    if (db.lastError) parts.push(h('p', { class: 'error-words' }, `The last reload failed (${formatTime(db.lastError.at)}): ${db.lastError.message}. The audit uses the database loaded before.`));
    return parts;
  }

  function render() {
    if (!audit) return;
    const focusKey = document.activeElement instanceof HTMLElement && el.contains(document.activeElement) ? document.activeElement.dataset.focusKey : undefined;
    replace(database, describeDatabase(audit.database));
    const { totals } = audit;
    if (!audit.database.configured) status.textContent = '';
    else if (totals.advisories === 0) status.textContent = 'No installed package of the processors shown is affected by a known advisory.';
    else status.textContent = `${countAdvisories(totals.advisories)} on ${plural(totals.packages, 'package')} of ${plural(totals.processors, 'processor')}.`;
    const fixable = audit.processors.filter((p) => fleet.canChange(p.processor) && p.findings.some((f) => f.fixedVersion));
    replace(fixAllSlot, fixable.length > 1 ? h('button', {
      type: 'button', class: 'button button-primary', dataset: { focusKey: 'fix-all' },
      onclick: (/** @type {Event} */ ev) => busy(ev, () => fix(fixable)),
    }, `Fix all shown on ${plural(fixable.length, 'processor')}…`) : null);
    replace(cards, audit.processors.map(cardOf));
    renderRules();
    if (focusKey) {
      const again = /** @type {HTMLElement | null} */ (el.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`));
      again?.focus();
    }
  }

  /** @param {ProcessorFindings} p */
  function cardOf(p) {
    const name = p.processor;
    const headingId = newId('audit-of');
    const count = p.findings.reduce((n, f) => n + f.advisories.filter((a) => !a.ignoredBy).length, 0);
    const fixes = p.findings.filter((f) => f.fixedVersion);
    return h('section', { class: 'update-card audit-card', 'aria-labelledby': headingId, dataset: { processor: name } },
      h('div', { class: 'update-card-head' },
        h('h3', { id: headingId }, h('a', { href: `#/p/${encodeURIComponent(name)}` }, name)),
        h('span', { class: 'update-counts' }, count ? h('span', { class: 'badge badge-security' }, countAdvisories(count)) : h('span', { class: 'muted' }, 'all ignored'))),
      h('p', { class: 'op-meta' }, `${p.manager} · ${p.type}`, canIgnore(name) ? '' : ' · read-only for you'),
      fleet.canChange(name) && fixes.length ? h('div', { class: 'row-actions' }, h('button', {
        type: 'button', class: 'button button-small button-primary', 'aria-label': `Fix ${name}…`, dataset: { focusKey: `fix:${name}` },
        onclick: (/** @type {Event} */ ev) => busy(ev, () => fix([p])),
      }, 'Fix…')) : null,
      h('div', { class: 'table-wrap' }, h('table', { class: 'table audit' },
        h('caption', { class: 'visually-hidden' }, `Advisories on the packages of ${name}`),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Package'), h('th', { scope: 'col' }, 'Installed'), h('th', { scope: 'col' }, 'Advisories'), h('th', { scope: 'col' }, 'Target'))),
        h('tbody', {}, p.findings.map((f) => h('tr', { dataset: { package: f.package } },
          h('th', { scope: 'row', 'data-label': 'Package' }, f.package),
          h('td', { 'data-label': 'Installed' }, f.version),
          h('td', { 'data-label': 'Advisories' }, h('ul', { class: 'advisories' }, f.advisories.map((a) => advisoryOf(name, f, a)))),
          h('td', { 'data-label': 'Target', class: 'target' }, f.fixedVersion ?? h('span', { class: 'muted' }, f.advisories.every((a) => a.ignoredBy) ? 'none needed: ignored' : 'no known fix'))))))));
  }

  /** @param {string} name @param {Finding} f @param {FindingAdvisory} a */
  function advisoryOf(name, f, a) {
    return h('li', { class: `advisory${a.ignoredBy ? ' ignored' : ''}`, dataset: { advisory: a.id } },
      h('div', { class: 'advisory-head' },
        severityBadge(a.severity),
        h('code', { class: 'advisory-id' }, a.id),
        a.aliases.length ? h('span', { class: 'pkg-extra' }, a.aliases.join(', ')) : null,
        a.ignoredBy ? h('span', { class: 'badge badge-stopped' }, 'ignored') : null),
      a.summary ? h('p', { class: 'advisory-summary' }, a.summary) : null,
      h('p', { class: 'pkg-extra' }, a.fixed.length ? `fixed in ${a.fixed.join(', ')}` : 'no fixed version named'),
      a.ignoredBy ? h('p', { class: 'pkg-extra' }, `ignored by ${a.ignoredBy.userId} until ${formatTime(a.ignoredBy.expiresAt)}: `, a.ignoredBy.reason) : null,
      !a.ignoredBy && canIgnore(name) ? h('button', {
        type: 'button', class: 'button button-small', 'aria-label': `Ignore ${a.id} on ${f.package} of ${name}…`, dataset: { focusKey: `ignore:${name}:${f.package}:${a.id}` },
        onclick: (/** @type {Event} */ ev) => busy(ev, () => ignore(name, f, a)),
      }, 'Ignore…') : null);
  }

  /**
   * A `security` batch on the processors given, after listing what goes where. The batch works the targets out
   * again when it is made, from the same database and rules.
   * @param {ProcessorFindings[]} of
   */
  async function fix(of) {
    const when = whenPart(api);
    const one = of.length === 1 ? of[0] : undefined;
    const yes = await confirmAction({
      title: one ? `Fix the vulnerable packages of ${one.processor}?` : `Fix the vulnerable packages on ${plural(of.length, 'processor')}?`,
      body: [
        one ? 'Each package goes to the lowest version that clears its advisories, in one operation; nothing else changes:'
          : 'On each processor, each package goes to the lowest version that clears its advisories, one operation per processor:',
        h('ul', { class: 'dialog-list' }, of.flatMap((p) => p.findings.filter((f) => f.fixedVersion).map((f) => h('li', {},
          one ? '' : `${p.processor}: `, h('strong', {}, f.package), ` ${f.version} → ${f.fixedVersion}`)))),
        'Held packages and packages no version clears are left alone, and the batch names them.',
        when.el,
      ],
      check: when.check,
      confirm: one ? `Fix ${plural(one.findings.filter((f) => f.fixedVersion).length, 'package')}` : `Fix on ${plural(of.length, 'processor')}`, danger: false,
    });
    if (!yes || disposed) return;
    await fleet.startBatch({ processors: of.map((p) => p.processor), action: 'security', ...when.value() },
      one ? `The security fixes of ${one.processor}` : `The security fixes on ${plural(of.length, 'processor')}`);
  }

  /** An ignore rule for one advisory on one package: reason, expiry (required) and scope. @param {string} name @param {Finding} f @param {FindingAdvisory} a */
  async function ignore(name, f, a) {
    const reasonId = newId('ignore-reason');
    const reason = h('input', { id: reasonId, autocomplete: 'off', maxlength: '500', required: true });
    const untilId = newId('ignore-until');
    const now = Date.now();
    const until = h('input', { id: untilId, type: 'date', required: true, value: localDate(now + 30 * 86_400_000), min: localDate(now + 86_400_000), max: localDate(now + MAX_IGNORE_DAYS * 86_400_000) });
    const scopeName = newId('ignore-scope');
    const thisId = newId('ignore-this');
    const allId = newId('ignore-all');
    const thisOne = h('input', { id: thisId, type: 'radio', name: scopeName, value: 'processor' });
    thisOne.checked = true;
    const all = h('input', { id: allId, type: 'radio', name: scopeName, value: 'all' });
    const yes = await confirmAction({
      title: `Ignore ${a.id}?`,
      body: [
        `${a.id} on ${f.package} stops counting in the audit and in security fixes until the rule expires. Say why, for those who read the audit after you.`,
        h('div', { class: 'field' }, h('label', { for: reasonId }, 'Reason'), reason),
        h('div', { class: 'field' }, h('label', { for: untilId }, 'Until (the end of that day, your time)'), until),
        me.admin ? h('fieldset', { class: 'choices' }, h('legend', {}, 'On'), h('ul', { class: 'choice-list' },
          h('li', { class: 'choice' }, thisOne, h('label', { for: thisId }, `this processor (${name})`)),
          h('li', { class: 'choice' }, all, h('label', { for: allId }, 'all processors')))) : h('p', { class: 'help' }, `On ${name} only.`),
      ],
      check: () => {
        if (reason.value.trim() === '') return 'Give the reason.';
        if (!until.value) return 'Give the date the rule expires.';
        const ms = Date.parse(localToIso(`${until.value}T23:59`));
        if (!Number.isFinite(ms) || ms <= Date.now()) return 'The rule must expire in the future.';
        if (ms > Date.now() + MAX_IGNORE_DAYS * 86_400_000) return `A rule lasts at most ${MAX_IGNORE_DAYS} days.`;
        return null;
      },
      confirm: 'Ignore', danger: false,
    });
    if (!yes || disposed) return;
    await api.post('/audit/ignores', {
      advisory: a.id, package: f.package, ...(all.checked ? {} : { processor: name }),
      reason: reason.value.trim(), expiresAt: localToIso(`${until.value}T23:59`),
    });
    ctx.notify(`${a.id} on ${f.package} is ignored ${all.checked ? 'on all processors' : `on ${name}`} until ${until.value}.`, 'success');
    await load();
  }

  /** @param {IgnoreRule} r */
  const canRemove = (r) => me.admin || (r.processor !== undefined && canIgnore(r.processor));

  function renderRules() {
    if (rules.length === 0) {
      replace(rulesList, h('p', { class: 'muted' }, 'No ignore rule.'));
      return;
    }
    const sorted = [...rules].sort((x, y) => Number(y.active) - Number(x.active) || x.expiresAt - y.expiresAt);
    replace(rulesList, h('div', { class: 'table-wrap' }, h('table', { class: 'table rules' },
      h('caption', { class: 'visually-hidden' }, 'Ignore rules, active ones first'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Advisory'), h('th', { scope: 'col' }, 'On'), h('th', { scope: 'col' }, 'Why'), h('th', { scope: 'col' }, 'Until'), h('th', { scope: 'col' }, 'Actions'))),
      h('tbody', {}, sorted.map((r) => h('tr', { dataset: { ruleId: r.id, advisory: r.advisory, active: String(r.active) } },
        h('th', { scope: 'row', 'data-label': 'Advisory' }, h('code', {}, r.advisory)),
        h('td', { 'data-label': 'On' }, `${r.package ?? 'any package'} · ${r.processor ?? 'all processors'}`),
        h('td', { 'data-label': 'Why' }, r.reason, h('span', { class: 'pkg-extra' }, `by ${r.userId}, `, timeAgo(r.createdAt))),
        h('td', { 'data-label': 'Until' }, h('span', { class: `badge ${r.active ? 'badge-held' : 'badge-stopped'}` }, r.active ? 'active' : 'expired'), ' ', formatTime(r.expiresAt)),
        h('td', { 'data-label': 'Actions' }, canRemove(r) ? h('button', {
          type: 'button', class: 'button button-small button-danger', 'aria-label': `Remove the rule on ${r.advisory}`, dataset: { focusKey: `remove-rule:${r.id}` },
          onclick: (/** @type {Event} */ ev) => busy(ev, () => removeRule(r)),
        }, 'Remove') : h('span', { class: 'muted' }, r.processor === undefined ? 'an administrator removes it' : 'read-only for you'))))))));
  }

  /** @param {IgnoreRule} r */
  async function removeRule(r) {
    const yes = await confirmAction({
      title: `Remove the rule on ${r.advisory}?`,
      body: [`${r.advisory} counts again in the audit and in security fixes${r.processor ? ` of ${r.processor}` : ''}.`],
      confirm: 'Remove the rule',
    });
    if (!yes || disposed) return;
    await api.request('DELETE', `/audit/ignores/${encodeURIComponent(r.id)}`);
    ctx.notify(`The rule on ${r.advisory} is removed.`, 'success');
    await load();
  }

  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let poll;
  async function load() {
    try {
      const [a, r] = await Promise.all([
        api.get('/audit', { severity: severity.value || undefined, package: pkg.value.trim() || undefined, processor: processor.value || undefined, ignored: ignored.checked ? 'true' : undefined }),
        api.get('/audit/ignores'),
      ]);
      if (disposed) return;
      audit = a;
      rules = r;
      render();
      clearTimeout(poll);
      if (a.database.configured && a.database.loading) poll = setTimeout(() => load().catch(() => undefined), LOADING_POLL_MS);
    } catch (err) {
      database.textContent = `The audit cannot be read: ${/** @type {Error} */ (err).message}`;
    }
  }

  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let soon;
  const again = (delay = 500) => {
    clearTimeout(soon);
    soon = setTimeout(() => {
      soon = undefined;
      if (!disposed) load().catch(() => undefined);
    }, delay);
  };

  for (const control of [severity, processor, ignored]) control.addEventListener('change', () => again(0));
  pkg.addEventListener('input', () => again(300));
  load().catch(() => undefined);

  return {
    el,
    refresh: () => again(),
    handle(ev) {
      if (ev.type === 'packages.changed') again();
    },
    dispose() {
      disposed = true;
      clearTimeout(poll);
      clearTimeout(soon);
    },
  };
}
