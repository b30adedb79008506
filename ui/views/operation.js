// @ts-check
import { confirmAction } from '../lib/dialog.js';
import { describeCommand, describeCommands, formatClock, formatDuration, h, isFinal, newId, plural, replace, statusBadge } from '../lib/dom.js';

/**
 * @typedef {{
 *   processObjId: string, productName: string, userId: string, status: string, commands: string[],
 *   operationTimestamp: number, operationStartTimestamp?: number, operationEndTimestamp?: number,
 *   lastStateChangeTimestamp: number, progressPerc?: number, durationMs?: number, appliedCount?: number,
 *   error?: { code: string, message: string }, notBefore?: number, window?: string,
 *   nodes?: { nodeCode: string, state: string, attempts: number, lastError?: string }[],
 * }} OperationView
 * @typedef {{ id: string, el: HTMLElement, readonly ended: boolean, handle(ev: import('../lib/events.js').LiveEvent): void, dispose(): void }} Follower
 */

/** While the stream is live the follower still reads the operation now and then, in case an event was missed. */
const SAFETY_POLL_MS = 10_000;
const POLL_MS = 1_000;
/** Log lines kept on the page; older ones are dropped (GET /operations/:id/log has them all). */
const MAX_LINES = 5_000;
const COMMAND_NOTE = /^command (\d+)\/(\d+): (.*)$/;

/** @type {Record<string, string>} */
export const DELIVERY_WORDS = {
  pending: 'waiting to be sent', delivered: 'sent, running there', applied: 'applied', failed: 'failed',
  skipped: 'skipped (the processor is not on that node)',
};

/**
 * Follows one operation on the page: its place in the queue, its state, the command running, its log as it grows
 * (scrolled to the newest line unless the user scrolled up), how long it has taken, and on the main node each
 * compute node's delivery. Fed by the events while the stream is live, and by reading the operation and its log
 * otherwise. `onEnded` runs once, when the operation has ended and its whole log is on the page.
 * @param {import('../app.js').PanelContext} ctx
 * @param {{ operation: OperationView, canWrite: boolean, onEnded(op: OperationView): void, onDismiss(): void }} options
 * @returns {Follower}
 */
export function followOperation(ctx, { operation, canWrite, onEnded, onDismiss }) {
  const { api, events } = ctx;
  const id = operation.processObjId;
  let op = operation;
  /**
   * Operations of the processor ahead of this one while it is queued (the events' `position`); null: unknown.
   * @type {number | null}
   */
  let ahead = null;
  /** @type {{ index: number, count: number, command: string } | null} */
  let command = null;
  let lastSeq = 0;
  let shownLines = 0;
  let ended = false;
  let disposed = false;
  let cancelling = false;
  /** @type {Map<string, { state: string, attempts?: number, lastError?: string }>} */
  const nodes = new Map();

  const titleId = newId('op-title');
  const status = h('p', { class: 'op-status', role: 'status', 'aria-live': 'polite' });
  const clock = h('p', { class: 'op-clock' });
  const error = h('p', { class: 'op-error', role: 'alert' });
  const nodeList = h('ul', { class: 'op-nodes', 'aria-label': 'Compute nodes' });
  const log = h('pre', { class: 'log', tabindex: '0', role: 'log', 'aria-label': `Log of ${describeCommands(op.commands)}` });
  const jump = h('button', { type: 'button', class: 'button button-small jump', hidden: true }, 'New lines below: jump to the newest');
  const logSummary = h('summary', {}, 'Log');
  // Open while the operation runs; a successful one folds its log away when it ends.
  const logBox = h('details', { class: 'op-log', open: true }, logSummary, h('div', { class: 'log-wrap' }, log, jump));
  const cancel = h('button', { type: 'button', class: 'button button-small' }, 'Cancel operation');
  const dismiss = h('button', { type: 'button', class: 'button button-small', hidden: true }, 'Dismiss');
  const el = h('section', { class: 'op', 'aria-labelledby': titleId, dataset: { operationId: id, updates: 'http' } },
    h('h3', { id: titleId }, `Operation: ${describeCommands(op.commands)}`),
    h('p', { class: 'op-meta' }, `Requested by ${op.userId} at ${formatClock(op.operationTimestamp)} · id ${id.slice(0, 8)}`),
    status, clock, error, nodeList,
    logBox,
    h('div', { class: 'op-actions' }, canWrite ? cancel : null, dismiss));

  // Auto-scroll: follow the newest line while the log is scrolled to its end; stop as soon as the user scrolls up.
  let stick = true;
  log.addEventListener('scroll', () => {
    stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
    if (stick) jump.hidden = true;
  });
  jump.addEventListener('click', () => {
    log.scrollTop = log.scrollHeight;
    stick = true;
    jump.hidden = true;
    log.focus();
  });
  dismiss.addEventListener('click', () => onDismiss());
  cancel.addEventListener('click', () => {
    confirmAction({
      title: 'Cancel this operation?',
      body: ['A queued operation is dropped. A running one has its package manager stopped, which may leave the environment partly changed; a refresh of the package list is queued after it.'],
      confirm: 'Cancel operation', cancel: 'Keep it',
    }).then(async (yes) => {
      if (!yes) return;
      cancel.disabled = true;
      try {
        apply(await api.post(`/operations/${encodeURIComponent(id)}/cancel`));
      } catch (err) {
        ctx.notify(`The operation could not be cancelled: ${/** @type {Error} */ (err).message}`, 'error');
        cancel.disabled = false;
      }
    }).catch(() => undefined);
  });

  /** Keeps the newer of two views of the operation; an ended one is final. @param {OperationView} view */
  function apply(view) {
    if (!view || view.processObjId !== id) return;
    if (isFinal(op.status) && !isFinal(view.status)) return;
    if (!isFinal(view.status) && view.lastStateChangeTimestamp < op.lastStateChangeTimestamp) return;
    op = { ...op, ...view };
    if (view.status !== 'CREATED') ahead = null;
    for (const n of view.nodes ?? []) nodes.set(n.nodeCode, n);
    render();
    if (isFinal(op.status)) finish().catch(() => undefined);
  }

  /** @param {{ seq: number, t: number, stream: string, line: string }[]} lines */
  function appendLines(lines) {
    const fresh = (lines ?? []).filter((l) => l.seq > lastSeq).sort((a, b) => a.seq - b.seq);
    if (fresh.length === 0) return;
    const fragment = document.createDocumentFragment();
    for (const l of fresh) {
      lastSeq = l.seq;
      fragment.append(h('span', { class: `line line-${l.stream}` }, `${formatClock(l.t)}  ${l.line}`));
      // Without command events, procenv's own notes say which command runs.
      const note = l.stream === 'procenv' ? COMMAND_NOTE.exec(l.line) : null;
      if (note) command = { index: Number(note[1]) - 1, count: Number(note[2]), command: note[3] ?? '' };
    }
    log.append(fragment);
    shownLines += fresh.length;
    while (shownLines > MAX_LINES && log.firstChild) {
      log.firstChild.remove();
      shownLines -= 1;
    }
    if (stick) log.scrollTop = log.scrollHeight;
    else jump.hidden = false;
    render();
  }

  function render() {
    el.dataset.status = op.status;
    /** @type {(string | Node)[]} */
    const parts = [statusBadge(op.status)];
    if (op.status === 'CREATED' && op.notBefore !== undefined && op.notBefore > Date.now()) {
      // A scheduled operation: its planned start matters more than its place in the queue.
      parts.push(` scheduled for ${new Date(op.notBefore).toLocaleString()}${op.window ? ` (window ${op.window})` : ''}`);
    } else if (op.status === 'CREATED') {
      parts.push(ahead === null ? ' waiting in the queue' : ahead === 0 ? ' runs next' : ` ${plural(ahead, 'operation')} ahead of it`);
    } else if (op.status === 'RUNNING') {
      if (cancelling) parts.push(' cancelling…');
      else if (op.commands.length === 0) parts.push(' reading the package list');
      else if (command) parts.push(` command ${command.index + 1} of ${command.count}: ${describeCommand(command.command)}`);
      if (op.progressPerc) parts.push(` (${op.progressPerc} %)`);
    } else if (op.status === 'DONE' && op.appliedCount !== undefined && op.appliedCount < op.commands.length) {
      parts.push(` ${op.appliedCount} of ${op.commands.length} commands applied`);
    }
    replace(status, parts);
    error.textContent = op.error && isFinal(op.status) ? op.error.message : '';
    replace(nodeList, [...nodes].map(([code, n]) => h('li', {}, h('strong', {}, code), `: ${DELIVERY_WORDS[n.state] ?? n.state}`,
      n.attempts && n.attempts > 1 ? ` after ${n.attempts} attempts` : '', n.lastError ? ` (${n.lastError})` : '')));
    nodeList.hidden = nodes.size === 0;
    tick();
    logSummary.textContent = `Log (${lastSeq === 0 ? 'no lines yet' : plural(lastSeq, 'line')})`;
    const done = isFinal(op.status);
    cancel.hidden = done;
    dismiss.hidden = !done;
  }

  function tick() {
    if (op.status === 'RUNNING' && op.operationStartTimestamp) clock.textContent = `Running for ${formatDuration(Date.now() - op.operationStartTimestamp)}`;
    else if (op.status === 'CREATED') clock.textContent = `Queued for ${formatDuration(Date.now() - op.operationTimestamp)}`;
    else if (isFinal(op.status)) {
      const ms = op.durationMs ?? (op.operationEndTimestamp && op.operationStartTimestamp ? op.operationEndTimestamp - op.operationStartTimestamp : undefined);
      clock.textContent = ms === undefined ? '' : `Took ${formatDuration(ms)}`;
    }
  }

  /** How many of the processor's operations are ahead of this one: those running, and those queued before it. */
  async function operationsAhead() {
    /** @type {OperationView[]} */
    const active = await api.get('/operations', { processor: op.productName, status: 'CREATED,RUNNING', limit: 500 });
    return active.filter((o) => o.processObjId !== id && (o.status === 'RUNNING' || o.operationTimestamp < op.operationTimestamp)).length;
  }

  let polling = false;
  async function poll() {
    if (polling || disposed || ended) return;
    polling = true;
    try {
      apply(await api.get(`/operations/${encodeURIComponent(id)}`));
      appendLines(await api.get(`/operations/${encodeURIComponent(id)}/log`, { after: lastSeq }));
      if (op.status === 'CREATED' && !events.live) {
        ahead = await operationsAhead();
        render();
      }
      if (isFinal(op.status)) await finish();
    } catch (err) {
      const e = /** @type {import('../lib/api.js').ApiError} */ (err);
      // Gone or no longer readable: say so and stop. A network failure is shown in the header and tried again.
      if (e.status === 403 || e.status === 404) {
        error.textContent = e.message;
        ended = true;
      }
    } finally {
      polling = false;
    }
  }

  /** The end: the rest of the log (stored before the end), then onEnded once. */
  async function finish() {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    try {
      appendLines(await api.get(`/operations/${encodeURIComponent(id)}/log`, { after: lastSeq }));
    } catch {
      // The lines shown are kept; the history has the whole log.
    }
    render();
    if (op.status === 'DONE') logBox.open = false;
    if (!disposed) onEnded(op);
  }

  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const schedule = () => {
    if (disposed || ended) return;
    timer = setTimeout(() => {
      poll().finally(schedule);
    }, events.live ? SAFETY_POLL_MS : POLL_MS);
  };
  const ticker = setInterval(() => {
    if (!ended) tick();
  }, 1_000);

  /** @param {import('../lib/events.js').LiveEvent} ev */
  function handle(ev) {
    if (ev.type === 'reconnected' || ev.type === 'reset') {
      poll().catch(() => undefined);
      return;
    }
    if (ev.operationId !== id || ended) return;
    el.dataset.updates = 'live';
    switch (ev.type) {
      case 'operation.queued':
        apply(ev.operation);
        if (typeof ev.position === 'number') ahead = ev.position;
        break;
      case 'operation.running':
      case 'operation.requeued':
      case 'operation.rescheduled':
        command = null;
        apply(ev.operation);
        break;
      case 'operation.cancelRequested':
        cancelling = true;
        apply(ev.operation);
        break;
      case 'operation.command':
        command = { index: ev.index, count: ev.count, command: ev.command };
        if (ev.phase === 'finished' && ev.ok === false && ev.error) error.textContent = typeof ev.error === 'string' ? ev.error : ev.error.message ?? '';
        break;
      case 'operation.progress':
        op = { ...op, progressPerc: ev.progressPerc };
        break;
      case 'operation.log':
        appendLines(ev.lines);
        return;
      case 'delivery.changed':
        nodes.set(ev.nodeCode, { state: ev.state, attempts: ev.attempts, lastError: ev.lastError });
        break;
      case 'operation.ended':
        apply(ev.operation);
        return;
      default:
        return;
    }
    render();
  }

  render();
  if (isFinal(op.status)) finish().catch(() => undefined);
  else poll().finally(schedule);
  return {
    id,
    el,
    get ended() {
      return ended;
    },
    handle,
    dispose() {
      disposed = true;
      clearTimeout(timer);
      clearInterval(ticker);
    },
  };
}
