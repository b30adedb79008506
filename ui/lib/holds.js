// @ts-check
// Holds of a processor's packages (PUT/DELETE /processors/{name}/holds/{package}), asked for the same way from the
// processor's package list and from the fleet's search: a hold needs a reason, and a release says whose hold it lifts.
import { askText, confirmAction } from './dialog.js';
import { formatTime } from './dom.js';

/**
 * @typedef {{ processorName: string, package: string, key: string, reason: string, userId: string, createdAt: number, version?: string }} Hold
 */

/** The longest reason procenv takes (domain/holds.ts MAX_HOLD_REASON). */
const MAX_REASON = 500;

/** "held by demo: waiting for the model's retraining". @param {Hold} hold */
export function holdWords(hold) {
  return `held by ${hold.userId}: ${hold.reason}`;
}

/** The hold's whole story, for a title: who, when, why, at which version. @param {Hold} hold */
export function holdTitle(hold) {
  return `Held by ${hold.userId} on ${formatTime(hold.createdAt)}${hold.version ? ` at ${hold.version}` : ''}: ${hold.reason}`;
}

/**
 * Asks for the reason, then holds the package. Answers the hold, or null when the user cancelled or procenv refused
 * (the refusal is shown in its words).
 * @param {import('../app.js').PanelContext} ctx
 * @param {string} processor
 * @param {string} pkg
 * @returns {Promise<Hold | null>}
 */
export async function placeHold(ctx, processor, pkg) {
  const reason = await askText({
    title: `Hold ${pkg} on ${processor}?`,
    body: [`While it is held, no change upgrades, downgrades or removes ${pkg} on ${processor}: single changes naming it are refused, upgrades of everything leave it alone, and pip keeps it at its version when it installs anything else.`],
    label: 'Reason', confirm: `Hold ${pkg}`, maxLength: MAX_REASON,
  });
  if (reason === null) return null;
  try {
    /** @type {Hold} */
    const hold = await ctx.api.request('PUT', holdPath(processor, pkg), { body: { reason } });
    ctx.notify(`${pkg} is held on ${processor}.`, 'success');
    return hold;
  } catch (err) {
    ctx.notify(`${pkg} could not be held on ${processor}: ${/** @type {Error} */ (err).message}`, 'error');
    return null;
  }
}

/**
 * Asks, naming whose hold it is and why, then lifts it. Answers whether it was lifted.
 * @param {import('../app.js').PanelContext} ctx
 * @param {string} processor
 * @param {string} pkg
 * @param {Hold | undefined} hold as the page knows it (who and why), when it does
 */
export async function releaseHold(ctx, processor, pkg, hold) {
  const yes = await confirmAction({
    title: `Release ${pkg} on ${processor}?`,
    body: [
      hold ? `${holdTitle(hold)}.` : '',
      `Changes may then upgrade, downgrade or remove ${pkg} on ${processor} again.`,
    ].filter(Boolean),
    confirm: `Release ${pkg}`, danger: false,
  });
  if (!yes) return false;
  try {
    await ctx.api.request('DELETE', holdPath(processor, pkg));
    ctx.notify(`${pkg} is no longer held on ${processor}.`, 'success');
    return true;
  } catch (err) {
    const e = /** @type {import('./api.js').ApiError} */ (err);
    // Someone else lifted it meanwhile: what the user wanted.
    if (e.code === 'HOLD_NOT_FOUND') return true;
    ctx.notify(`The hold on ${pkg} could not be released: ${e.message}`, 'error');
    return false;
  }
}

/** @param {string} processor */
export function holdsPath(processor) {
  return `/processors/${encodeURIComponent(processor)}/holds`;
}

/** @param {string} processor @param {string} pkg */
function holdPath(processor, pkg) {
  return `${holdsPath(processor)}/${encodeURIComponent(pkg)}`;
}
