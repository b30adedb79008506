// @ts-check
import { h, newId } from './dom.js';

/**
 * Asks before a destructive action, in a modal <dialog> (focus stays inside, Escape cancels). The safe choice has
 * the focus, so a stray Enter changes nothing. Answers whether the user confirmed.
 * @param {{ title: string, body: (string | Node)[], confirm: string, cancel?: string }} options
 * @returns {Promise<boolean>}
 */
export function confirmAction({ title, body, confirm, cancel = 'Cancel' }) {
  return new Promise((resolve) => {
    const titleId = newId('dialog-title');
    const cancelButton = h('button', { type: 'button', class: 'button' }, cancel);
    const confirmButton = h('button', { type: 'button', class: 'button button-danger' }, confirm);
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId },
      h('h2', { id: titleId }, title),
      ...body.map((part) => (typeof part === 'string' ? h('p', {}, part) : part)),
      h('div', { class: 'dialog-actions' }, cancelButton, confirmButton));
    const opener = document.activeElement;
    let answered = false;
    /** @param {boolean} yes */
    const finish = (yes) => {
      if (answered) return;
      answered = true;
      dialog.close();
      dialog.remove();
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      resolve(yes);
    };
    cancelButton.addEventListener('click', () => finish(false));
    confirmButton.addEventListener('click', () => finish(true));
    dialog.addEventListener('close', () => finish(false));
    document.body.append(dialog);
    dialog.showModal();
    cancelButton.focus();
  });
}
