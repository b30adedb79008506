// @ts-check
// The environment panel: sign-in, the header (who, the connection, sign-out), notices, and a hash router over the
// views. One Api and one LiveEvents per tab; views subscribe to the events and unsubscribe when they are left.
import { Api } from './lib/api.js';
import { h, replace } from './lib/dom.js';
import { LiveEvents } from './lib/events.js';
import { renderFleet } from './views/fleet.js';
import { renderNodes } from './views/nodes.js';
import { renderProcessor } from './views/processor.js';
import { renderProcessors } from './views/processors.js';
import { renderSignIn } from './views/sign-in.js';

/**
 * @typedef {{ userId: string, admin: boolean, mainNode: boolean, nodeCode: string }} Me
 * @typedef {'packages' | 'history' | 'generations' | 'nodes'} ProcessorTab
 * @typedef {'packages' | 'updates' | 'audit' | 'windows' | 'batches'} FleetTab
 * @typedef {{ name: 'processors' } | { name: 'processor', processor: string, tab: ProcessorTab, operation?: string } | { name: 'fleet', tab: FleetTab, batch?: string } | { name: 'nodes' } | { name: 'unknown' }} Route
 * @typedef {{ dispose(): void, route?(route: Route): boolean }} View
 * @typedef {{
 *   api: Api,
 *   events: LiveEvents,
 *   me: Me,
 *   notify(message: string, kind?: 'info' | 'success' | 'error'): void,
 *   main: HTMLElement,
 * }} PanelContext
 */

/** sessionStorage: the token lives as long as the tab, and sign-out removes it. */
const TOKEN_KEY = 'procenv.session';

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const conn = /** @type {HTMLElement} */ (document.getElementById('conn'));
const account = /** @type {HTMLElement} */ (document.getElementById('account'));
const topNav = /** @type {HTMLElement} */ (document.getElementById('top-nav'));
const notices = /** @type {HTMLElement} */ (document.getElementById('notices'));

const api = new Api();
const events = new LiveEvents(api, () => showConnection());
api.onReachable = () => showConnection();
api.onUnauthenticated = (/** @type {string} */ message) => {
  // Only a session that was in use; the sign-in form shows its own answer.
  if (me) signOut(`You were signed out: ${message}.`);
};

/** @type {Me | null} */
let me = null;
/** @type {View | null} */
let view = null;

/** @type {Record<string, string>} */
const CONNECTION_WORDS = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  unavailable: 'Updates by polling',
};

/** The header's connection line: "Reconnecting…" whenever procenv cannot be reached, whatever the stream says. */
function showConnection() {
  const state = !me ? 'off' : !api.reachable ? 'reconnecting' : events.state;
  conn.dataset.state = state;
  conn.textContent = CONNECTION_WORDS[state] ?? '';
  conn.title = state === 'unavailable' ? 'This procenv has no event stream; the panel asks for changes every few seconds' : '';
}

/**
 * @param {string} message
 * @param {'info' | 'success' | 'error'} [kind]
 */
function notify(message, kind = 'info') {
  const dismiss = h('button', { type: 'button', class: 'button button-small', 'aria-label': 'Dismiss this message' }, 'Dismiss');
  const notice = h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, h('p', {}, message), dismiss);
  dismiss.addEventListener('click', () => notice.remove());
  notices.append(notice);
  // Errors stay until dismissed; the others go by themselves.
  if (kind !== 'error') setTimeout(() => notice.remove(), 8_000);
  while (notices.children.length > 4) notices.firstElementChild?.remove();
}

/** @returns {Route} */
function currentRoute() {
  const hash = location.hash;
  if (hash === '' || hash === '#' || hash === '#/') return { name: 'processors' };
  if (hash === '#/nodes') return { name: 'nodes' };
  // #/fleet, #/fleet/updates, #/fleet/audit, #/fleet/windows, #/fleet/batches, #/fleet/batches/<id>: a batch with its results open.
  const fleet = /^#\/fleet(?:\/(updates|audit|windows)|\/(batches)(?:\/([^/]+))?)?$/.exec(hash);
  if (fleet) {
    const tab = /** @type {FleetTab} */ (fleet[1] ?? fleet[2] ?? 'packages');
    let batch;
    try {
      batch = fleet[3] === undefined ? undefined : decodeURIComponent(fleet[3]);
    } catch {
      return { name: 'unknown' };
    }
    return { name: 'fleet', tab, ...(batch ? { batch } : {}) };
  }
  // #/p/<name>/history/<operation id>: the history with that operation's details open.
  const m = /^#\/p\/([^/]+)(?:\/(generations|nodes)|\/(history)(?:\/([^/]+))?)?$/.exec(hash);
  if (m) {
    let processor;
    let operation;
    try {
      processor = decodeURIComponent(m[1] ?? '');
      operation = m[4] === undefined ? undefined : decodeURIComponent(m[4]);
    } catch {
      return { name: 'unknown' };
    }
    const tab = /** @type {ProcessorTab | undefined} */ (m[2] ?? m[3]) ?? 'packages';
    return { name: 'processor', processor, tab, ...(operation ? { operation } : {}) };
  }
  return { name: 'unknown' };
}

/** @param {boolean} focus move the focus to the new view's heading (a navigation, not the first load) */
function showRoute(focus) {
  if (!me) return;
  const route = currentRoute();
  if (view?.route?.(route)) return;
  view?.dispose();
  view = null;
  main.replaceChildren();
  /** @type {PanelContext} */
  const ctx = { api, events, me, notify, main };
  /** @type {Record<string, string>} */
  const navOf = { nodes: '#/nodes', fleet: '#/fleet' };
  for (const link of topNav.querySelectorAll('a')) {
    const current = link.hash === (navOf[route.name] ?? '#/');
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  switch (route.name) {
    case 'processors':
      view = renderProcessors(ctx);
      break;
    case 'processor':
      view = renderProcessor(ctx, route);
      break;
    case 'fleet':
      view = renderFleet(ctx, route);
      break;
    case 'nodes':
      view = renderNodes(ctx);
      break;
    default:
      document.title = 'Not found · procenv';
      main.append(h('h1', { tabindex: '-1' }, 'Nothing here'), h('p', {}, h('a', { href: '#/' }, 'Back to the processors')));
  }
  if (focus) main.querySelector('h1')?.focus();
}

/** @param {Me} who */
function signedIn(who) {
  me = who;
  replace(account,
    h('span', { class: 'who' }, 'Signed in as ', h('strong', {}, who.userId), who.admin ? ' (admin)' : ''),
    h('button', { type: 'button', class: 'button button-small', onclick: () => signOut('You are signed out.') }, 'Sign out'));
  replace(topNav,
    h('a', { href: '#/' }, 'Processors'),
    h('a', { href: '#/fleet' }, 'Fleet'),
    who.mainNode && who.admin ? h('a', { href: '#/nodes' }, 'Nodes') : null,
    h('span', { class: 'node-code', title: who.mainNode ? 'the main node' : 'a compute node' }, `node ${who.nodeCode}${who.mainNode ? ' (main)' : ''}`));
  events.start();
  showConnection();
  showRoute(false);
}

/** @param {string} [message] */
function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  api.setToken(null);
  events.stop();
  me = null;
  view?.dispose();
  view = null;
  account.replaceChildren();
  topNav.replaceChildren();
  showConnection();
  showSignIn(message);
}

/** @param {string} [message] */
function showSignIn(message) {
  main.replaceChildren();
  document.title = 'Sign in · procenv';
  renderSignIn(main, api, message, (token, who) => {
    sessionStorage.setItem(TOKEN_KEY, token);
    signedIn(who);
  });
}

/** A token from earlier in this tab: checked once; a procenv that cannot be reached is asked again. */
async function resume() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) {
    showSignIn();
    return;
  }
  api.setToken(token);
  try {
    signedIn(await api.get('/me'));
  } catch (err) {
    const e = /** @type {import('./lib/api.js').ApiError} */ (err);
    if (e.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      api.setToken(null);
      showSignIn('Your session has ended; sign in again.');
      return;
    }
    replace(main, h('h1', { tabindex: '-1' }, 'procenv cannot be reached'), h('p', { role: 'status' }, `${e.message}. Trying again…`));
    setTimeout(() => {
      resume().catch(() => undefined);
    }, 3_000);
  }
}

window.addEventListener('hashchange', () => showRoute(true));
document.getElementById('skip-link')?.addEventListener('click', (ev) => {
  // The hash is the router's: move the focus instead of following the link.
  ev.preventDefault();
  main.focus();
});
resume().catch((err) => notify(`The panel could not start: ${err instanceof Error ? err.message : String(err)}`, 'error'));
