// @ts-check
import { h } from '../lib/dom.js';

/**
 * The sign-in form: a session token, checked with GET /me before it is kept. The form is never submitted by the
 * browser (the page's CSP has `form-action 'none'`), so the token cannot end up in a URL.
 * @param {HTMLElement} main
 * @param {import('../lib/api.js').Api} api
 * @param {string | undefined} message why the form is shown (signed out, session expired)
 * @param {(token: string, me: import('../app.js').Me) => void} onSignedIn
 */
export function renderSignIn(main, api, message, onSignedIn) {
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true,
    'aria-describedby': 'token-help',
  });
  const error = h('p', { class: 'form-error', id: 'sign-in-error', role: 'alert' });
  const button = h('button', { type: 'submit', class: 'button button-primary' }, 'Sign in');
  const form = h('form', { class: 'sign-in', novalidate: true },
    h('h1', { tabindex: '-1' }, 'Sign in to procenv'),
    message ? h('p', { class: 'sign-in-message', role: 'status' }, message) : null,
    h('label', { for: 'token' }, 'Session token'),
    input,
    h('p', { class: 'help', id: 'token-help' },
      'A token from ', h('code', {}, 'procenv session create <user>'), ', or the demo token that ', h('code', {}, 'npm start'), ' prints.'),
    error,
    button);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) {
      error.textContent = 'Paste a session token first.';
      input.focus();
      return;
    }
    button.disabled = true;
    error.textContent = '';
    api.setToken(token);
    api.get('/me').then((me) => {
      input.value = '';
      onSignedIn(token, me);
    }, (/** @type {import('../lib/api.js').ApiError} */ err) => {
      api.setToken(null);
      error.textContent = err.status === 401 ? 'This session token is not valid, or its session has expired.' : err.message;
      button.disabled = false;
      input.focus();
    });
  });
  main.append(form);
  input.focus();
}
