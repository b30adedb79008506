// @ts-check
import { h, newId } from './dom.js';

/**
 * @typedef {{
 *   title: string, body: (string | Node)[], confirm: string, cancel?: string,
 *   danger?: boolean,
 *   check?: () => string | null,
 *   onOpen?: (confirmButton: HTMLButtonElement) => void,
 * }} DialogOptions
 */

/**
 * A modal <dialog> (focus stays inside, Escape cancels) with a Cancel and a confirm button. The safe choice has the
 * focus unless `focus` names a field, so a stray Enter changes nothing. `check` runs on confirm and answers an
 * error to show beside the buttons (the dialog stays open), or null to close. Answers whether the user confirmed.
 * @param {DialogOptions & { focus?: HTMLElement }} options
 * @returns {Promise<boolean>}
 */
function openDialog({ title, body, confirm, cancel = 'Cancel', danger = true, check, onOpen, focus }) {
  return new Promise((resolve) => {
    const titleId = newId('dialog-title');
    const cancelButton = h('button', { type: 'button', class: 'button' }, cancel);
    const confirmButton = h('button', { type: 'submit', class: `button ${danger ? 'button-danger' : 'button-primary'}` }, confirm);
    const error = h('p', { class: 'form-error', role: 'alert' });
    // A form, so that Enter in a field confirms; it is never submitted by the browser (preventDefault).
    const form = h('form', { novalidate: true },
      ...body.map((part) => (typeof part === 'string' ? h('p', {}, part) : part)),
      error,
      h('div', { class: 'dialog-actions' }, cancelButton, confirmButton));
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId }, h('h2', { id: titleId }, title), form);
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
    // What was wrong is being put right: the complaint goes.
    form.addEventListener('input', () => {
      error.textContent = '';
    });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (confirmButton.disabled) return;
      const problem = check?.() ?? null;
      if (problem) {
        error.textContent = problem;
        return;
      }
      finish(true);
    });
    dialog.addEventListener('close', () => finish(false));
    document.body.append(dialog);
    onOpen?.(confirmButton);
    dialog.showModal();
    (focus ?? cancelButton).focus();
  });
}

/**
 * Asks before an action that changes processors, saying what it does. Answers whether the user confirmed.
 * `danger: false` for a change that is not destructive (an upgrade), shown as an ordinary primary button.
 * @param {DialogOptions} options
 * @returns {Promise<boolean>}
 */
export function confirmAction(options) {
  return openDialog(options);
}

/**
 * Asks for a line of text (a hold's reason): answers it trimmed, or null when the user cancelled.
 * @param {{ title: string, body: (string | Node)[], label: string, confirm: string, maxLength: number, value?: string }} options
 * @returns {Promise<string | null>}
 */
export async function askText({ title, body, label, confirm, maxLength, value = '' }) {
  const id = newId('dialog-text');
  const input = h('input', { id, autocomplete: 'off', maxlength: String(maxLength), required: true, value });
  const yes = await openDialog({
    title, confirm, danger: false,
    body: [...body, h('div', { class: 'field' }, h('label', { for: id }, label), input)],
    check: () => (input.value.trim() === '' ? `Give the ${label.toLowerCase()}.` : null),
    focus: input,
  });
  return yes ? input.value.trim() : null;
}

/**
 * Asks which of a list to act on, and confirms in the same dialog: one checkbox per choice (those in `checked`
 * ticked), and a confirm button whose words follow the count (`confirm(n)`). `extra` goes after the choices (a
 * batch's "When") with its own check. Answers the chosen values, or null.
 * @param {{ title: string, body: (string | Node)[], legend: string, choices: { value: string, label: (string | Node)[] }[], checked: Set<string>, confirm: (n: number) => string, danger?: boolean, extra?: { el: Node, check(): string | null } }} options
 * @returns {Promise<string[] | null>}
 */
export async function chooseAndConfirm({ title, body, legend, choices, checked, confirm, danger = false, extra }) {
  const boxes = choices.map((c) => {
    const id = newId('dialog-choice');
    const box = h('input', { id, type: 'checkbox', value: c.value });
    box.checked = checked.has(c.value);
    return { box, el: h('li', { class: 'choice' }, box, h('label', { for: id }, ...c.label)) };
  });
  const picked = () => boxes.filter((b) => b.box.checked).map((b) => b.box.value);
  const yes = await openDialog({
    title, danger, confirm: confirm(picked().length),
    body: [...body, h('fieldset', { class: 'choices' }, h('legend', {}, legend), h('ul', { class: 'choice-list' }, boxes.map((b) => b.el))), ...(extra ? [extra.el] : [])],
    check: () => (picked().length === 0 ? 'Choose at least one.' : extra?.check() ?? null),
    onOpen: (button) => {
      const update = () => {
        const n = picked().length;
        button.textContent = confirm(n);
        button.disabled = n === 0;
      };
      for (const b of boxes) b.box.addEventListener('change', update);
      update();
    },
  });
  return yes ? picked() : null;
}
