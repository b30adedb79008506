import { existsSync } from 'node:fs';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import type { Browser } from 'playwright-core';
import { startService, type Service } from '../../src/main.ts';
import { createLogger } from '../../src/logger.ts';
import { cleanPipEnv, createTemplateVenv, installedPackages, realPython, standInPython, type TemplateVenv } from '../helpers/pip-env.ts';
import { startPipService } from '../helpers/pip-service.ts';
import { startTestService } from '../helpers/service.ts';
import {
  CHROMIUM, HAS_CHROMIUM, launchChromium, newOperation, openPanel, operationOnPage, overflowsSideways, shownOperations, signIn,
  unlabelledControls,
} from './support.ts';

/**
 * The environment panel in a real browser (Debian's Chromium driven by playwright-core) against a procenv the test
 * starts: real pip in a real venv, wheels built by the test, nothing sent anywhere but 127.0.0.1. Serial: each
 * test runs pip or a browser, and the machine has two cores.
 */
const test = anyTest as TestFn;
const browserTest = HAS_CHROMIUM ? test.serial : test.serial.skip;
// The reason, as a test title ava lists among the skipped ones.
if (!HAS_CHROMIUM) test.skip(`the panel's browser tests need ${CHROMIUM} (apt-get install -y chromium)`, () => undefined);

const WHEELS: [string, string][] = [['paneldemo', '1.0.0'], ['paneldemo', '2.0.0']];

let browser: Browser;
let template: TemplateVenv;
test.before(async () => {
  if (!HAS_CHROMIUM) return;
  [browser, template] = await Promise.all([launchChromium(), createTemplateVenv()]);
});
test.after.always(async () => {
  await browser?.close();
  await template?.remove();
});

browserTest('an owner signs in, adds, upgrades and removes a package, following each operation to its end, and finds them in the history', async (t) => {
  const svc = await startPipService(template, WHEELS);
  t.teardown(() => svc.close());
  const panel = await openPanel(t, browser);
  const { page } = panel;

  await page.goto(`${svc.url}/`);
  t.regex(page.url(), /\/ui\/$/, '/ redirects to the panel');
  await page.getByLabel('Session token').waitFor();
  await panel.screenshot('01-sign-in');
  await page.getByLabel('Session token').fill(svc.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Processors' }).waitFor();
  // Set once: a full reload of the page anywhere below would lose it.
  await page.evaluate(() => Object.assign(window, { panelMarker: 'no reload' }));

  // The list: every processor the owner can read, with its counts, and a filter box.
  const rows = page.locator('#processor-table tbody tr');
  await rows.nth(2).waitFor();
  t.deepEqual(await rows.locator('th a').allTextContents(), ['sample_conda', 'sample_oneshot', 'sample_pip']);
  const pipRow = page.locator('tr[data-processor="sample_pip"]');
  t.is(await pipRow.locator('[data-label="Packages"]').textContent(), '7');
  t.is(await pipRow.locator('[data-label="Outdated"]').textContent(), '3');
  t.is(await pipRow.locator('[data-label="Manager"]').textContent(), 'pip');
  await page.getByLabel('Filter processors').fill('conda');
  t.deepEqual(await rows.locator('th a').allTextContents(), ['sample_conda']);
  await panel.screenshot('02-processors-filtered');
  await page.getByLabel('Filter processors').fill('');
  await page.getByRole('link', { name: 'sample_pip' }).click();

  // The processor: manager and version, and the packages of its packagesInfo.json.
  await page.getByRole('heading', { level: 1, name: 'sample_pip' }).waitFor();
  await page.locator('tr[data-package="numpy"]').waitFor();
  t.regex((await page.locator('.processor-meta').textContent()) ?? '', /pip 22\.0\.2 · python_pip_2 · owner demo · public · you can change it/);
  await page.getByLabel('Search packages').fill('sci');
  t.deepEqual(await page.locator('.packages tbody th').allTextContents(), ['scipy']);
  await page.getByLabel('Search packages').fill('');
  await page.getByLabel('Outdated only').check();
  t.deepEqual(await page.locator('.packages tbody th').allTextContents(), ['numpy', 'requests', 'Shapely']);
  await page.getByLabel('Outdated only').uncheck();

  // Add 1.0.0: followed to its end, with its log; the table then shows it, outdated, without a reload.
  let before = await shownOperations(page);
  await page.getByLabel('Package name').fill('paneldemo');
  await page.getByLabel('Version (optional)').fill('1.0.0');
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  const added = await newOperation(page, before);
  const addOp = operationOnPage(page, added);
  await addOp.locator('.op-status').getByText(/Queued|Running|Done/).first().waitFor();
  await panel.screenshot('03-operation-following');
  await page.locator(`section.op[data-operation-id="${added}"][data-status="DONE"]`).waitFor({ timeout: 60_000 });
  t.regex((await addOp.locator('.log').textContent()) ?? '', /command 1\/1: addPackage\/paneldemo\/1\.0\.0\//);
  t.regex((await addOp.locator('.log').textContent()) ?? '', /Successfully installed paneldemo-1\.0\.0/);
  t.regex((await addOp.locator('.op-clock').textContent()) ?? '', /^Took \d/);
  const demoRow = page.locator('tr[data-package="paneldemo"]');
  await demoRow.waitFor();
  t.is(await demoRow.locator('[data-label="Installed"]').textContent(), '1.0.0');
  t.is(await demoRow.locator('[data-label="Latest"]').textContent(), '2.0.0');
  t.is(await demoRow.locator('[data-label="Status"]').textContent(), 'outdated');
  await panel.screenshot('04-packages-after-add');

  // Upgrade, offered because 2.0.0 is in the index.
  before = await shownOperations(page);
  await page.getByRole('button', { name: 'Upgrade paneldemo to 2.0.0' }).click();
  const upgraded = await newOperation(page, before);
  await page.locator(`section.op[data-operation-id="${upgraded}"][data-status="DONE"]`).waitFor({ timeout: 60_000 });
  await page.locator('tr[data-package="paneldemo"] [data-label="Installed"]', { hasText: '2.0.0' }).waitFor();
  t.is(await demoRow.locator('[data-label="Status"]').textContent(), 'current');
  t.is(await page.getByRole('button', { name: /^Upgrade paneldemo/ }).count(), 0);

  // Remove asks first, and says what it does; Cancel changes nothing.
  await page.getByRole('button', { name: 'Remove paneldemo' }).click();
  const dialog = page.getByRole('dialog', { name: 'Remove paneldemo from sample_pip?' });
  await dialog.waitFor();
  t.regex((await dialog.textContent()) ?? '', /pip uninstalls it from the environment of sample_pip/);
  await panel.screenshot('05-remove-confirmation');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached' });
  t.deepEqual(await shownOperations(page), [upgraded, added]);

  // Two packages selected, removed in one operation (after the same question, naming both).
  await page.getByRole('checkbox', { name: 'Select paneldemo' }).check();
  await page.getByRole('checkbox', { name: 'Select setuptools' }).check();
  await page.getByRole('region', { name: 'Selected packages' }).getByText('2 packages selected').waitFor();
  before = await shownOperations(page);
  await page.getByRole('button', { name: 'Remove selected…' }).click();
  const both = page.getByRole('dialog', { name: 'Remove 2 packages from sample_pip?' });
  await both.waitFor();
  t.deepEqual(await both.getByRole('listitem').allTextContents(), ['paneldemo', 'setuptools']);
  await both.getByRole('button', { name: 'Remove 2 packages' }).click();
  const removed = await newOperation(page, before);
  await page.locator(`section.op[data-operation-id="${removed}"][data-status="DONE"]`).waitFor({ timeout: 60_000 });
  await demoRow.waitFor({ state: 'detached' });
  t.is(await page.locator('tr[data-package="setuptools"]').count(), 0);
  const left = await installedPackages(svc.venv);
  t.false('paneldemo' in left || 'setuptools' in left, 'both are gone from the venv');

  // At 375 px: nothing forces sideways scrolling.
  await page.setViewportSize({ width: 375, height: 812 });
  t.is(await overflowsSideways(page), 0);
  await panel.screenshot('06-packages-375px');
  await page.setViewportSize({ width: 1280, height: 900 });

  // History: who, when, what, the result, and each operation's log on demand.
  await page.getByRole('link', { name: 'History' }).click();
  const history = page.locator('.history tbody tr[data-operation-id]');
  await history.nth(2).waitFor();
  t.deepEqual(await history.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.operationId)), [removed, upgraded, added]);
  t.deepEqual(await history.nth(0).locator('[data-label="Changes"] li').allTextContents(), ['remove paneldemo', 'remove setuptools']);
  t.deepEqual(await history.locator('[data-label="Changes"]').allTextContents(), ['remove paneldemoremove setuptools', 'upgrade paneldemo 2.0.0', 'add paneldemo 1.0.0']);
  t.deepEqual(await history.locator('[data-label="Who"]').allTextContents(), ['demo', 'demo', 'demo']);
  t.deepEqual(await history.locator('[data-label="Result"]').allTextContents(), ['Done', 'Done', 'Done']);
  await history.first().getByRole('button', { name: /^Show the log/ }).click();
  await page.locator('.history tr.details .log').getByText(/Successfully uninstalled paneldemo-2\.0\.0/).waitFor();
  t.regex((await page.locator('.history tr.details .log').textContent()) ?? '', /command 2\/2: removePackage\/setuptools\//);
  await panel.screenshot('07-history');

  t.deepEqual(await unlabelledControls(page), []);
  t.is(await page.evaluate(() => (window as unknown as { panelMarker?: string }).panelMarker), 'no reload');
  t.deepEqual(panel.problems, []);
});

browserTest('a refused change is shown in the API\'s words, Reset history says what it does before it does it, and sign-out forgets the token', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const token = await svc.login('demo');
  const panel = await openPanel(t, browser);
  const { page } = panel;
  await signIn(panel, svc.url, token);
  await page.getByRole('link', { name: 'sample_pip' }).click();
  // pip would read it as an option: procenv refuses it before anything is queued.
  await page.getByLabel('Package name').fill('--index-url=evil');
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  const alert = page.locator('.add-form .form-error');
  await alert.getByText(/cannot be added/).waitFor();
  t.notRegex((await alert.textContent()) ?? '', /INVALID_UPDATE_COMMAND|\b400\b/, 'words, not codes');
  t.deepEqual(await svc.store.listOperations({ limit: 10 }), []);
  await panel.screenshot('08-refused-add');

  const history = join(svc.catalog.folderOf('sample_pip'), 'envActionsList.txt');
  t.true(existsSync(history));
  await page.getByRole('button', { name: 'Reset history…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Reset the history of sample_pip?' });
  await dialog.waitFor();
  t.regex((await dialog.textContent()) ?? '', /deletes the list of changes applied to sample_pip \(envActionsList\.txt\).*installed packages stay as they are/s);
  await dialog.getByRole('button', { name: 'Reset history' }).click();
  await page.getByText('The history of sample_pip was reset.').waitFor();
  t.false(existsSync(history), 'envActionsList.txt is gone');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to procenv' }).waitFor();
  t.is(await page.evaluate(() => sessionStorage.length), 0);
  await page.reload();
  await page.getByLabel('Session token').waitFor();
  await page.getByLabel('Session token').fill('not-a-session');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('This session token is not valid, or its session has expired.').waitFor();
  t.deepEqual(panel.problems, []);
});

browserTest('a read-only user, with the keyboard alone, sees the packages and the history but no button to change them', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  await svc.store.saveSharing({
    resourceType: 'processor', resourceId: 'e27b90c4-1d5f-4a63-8c0e-3b9f7a2d6c51', userId: 'reader', ownerId: 'demo', permissions: 'read',
    createdBy: 'demo', createdDate: Date.now(),
  });
  const token = await svc.login('reader');
  const panel = await openPanel(t, browser, { width: 375, height: 812 });
  const { page } = panel;

  // Keyboard only: the token field has the focus, Enter signs in, Tab reaches the processor's link.
  await page.goto(`${svc.url}/ui/`);
  await page.getByLabel('Session token').waitFor();
  t.is(await page.evaluate(() => document.activeElement?.id), 'token');
  await page.keyboard.type(token);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Processors' }).waitFor();
  await page.locator('tr[data-processor="sample_oneshot"]').waitFor();
  let reached = false;
  for (let i = 0; i < 40 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.textContent === 'sample_oneshot');
  }
  t.true(reached, 'Tab reaches the processor link');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'sample_oneshot' }).waitFor();
  await page.locator('tr[data-package="numpy"]').waitFor();
  t.regex((await page.locator('.processor-meta').textContent()) ?? '', /read-only for you/);
  // Outdated packages are marked for readers too, but nothing offers a change.
  t.is(await page.locator('tr[data-package="numpy"] [data-label="Status"]').textContent(), 'outdated');
  t.is(await page.getByRole('button').filter({ hasText: /Add|Upgrade|Remove|Refresh|Reset|Cancel/ }).count(), 0);
  t.is(await page.getByRole('checkbox').count(), 1, 'no checkbox to select packages');
  t.is(await page.getByRole('checkbox', { name: 'Outdated only' }).count(), 1);
  t.is(await page.getByRole('group', { name: 'Add a package' }).count(), 0);
  t.is(await overflowsSideways(page), 0);
  t.deepEqual(await unlabelledControls(page), []);
  await panel.screenshot('09-read-only-375px');

  await page.getByRole('link', { name: 'History' }).focus();
  await page.keyboard.press('Enter');
  await page.getByText('No operation has ended on this processor yet.').waitFor();
  t.deepEqual(panel.problems, []);
});

browserTest('an admin on the main node sees each compute node and where it stands for a processor', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  // A node that refuses connections (port 9 on loopback): shown as unreachable, with the reason.
  await svc.store.saveNode({ nodeCode: 'node-a', nodeBaseAddress: 'http://127.0.0.1:9', active: true });
  const token = await svc.login('root', { admin: true });
  const panel = await openPanel(t, browser);
  const { page } = panel;
  await signIn(panel, svc.url, token);
  await page.getByRole('link', { name: 'Nodes', exact: true }).click();
  const node = page.locator('tr[data-node="node-a"]');
  await node.waitFor();
  t.is(await node.locator('[data-label="Address"]').textContent(), 'http://127.0.0.1:9');
  t.regex((await node.locator('[data-label="Reachable"]').textContent()) ?? '', /^no/);
  await panel.screenshot('10-nodes');
  await page.goto(`${svc.url}/ui/#/p/sample_pip/nodes`);
  await page.locator('tr[data-node="node-a"][data-state="unreachable"]').waitFor();
  await panel.screenshot('11-processor-nodes');
  t.deepEqual(panel.problems, []);
});

browserTest('the page recovers by itself when the service restarts in the middle of an operation', async (t) => {
  const svc = await startPipService(template, WHEELS);
  let again: Service | undefined;
  t.teardown(async () => {
    await again?.stop();
    await svc.close();
  });
  const panel = await openPanel(t, browser);
  const { page } = panel;
  await signIn(panel, svc.url, svc.token);
  await page.evaluate(() => Object.assign(window, { panelMarker: 'no reload' }));
  await page.getByRole('link', { name: 'sample_pip' }).click();
  await page.locator('tr[data-package="numpy"]').waitFor();

  // pip install hangs (a stand-in interpreter sleeps first), so the operation is RUNNING when procenv stops.
  standInPython(svc.venv, 'slow-install', '#!/bin/sh\ncase " $* " in *" install "*) sleep 120;; esac\nexec "$(dirname "$0")/python3" "$@"\n');
  const before = await shownOperations(page);
  await page.getByLabel('Package name').fill('paneldemo');
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  const id = await newOperation(page, before);
  await page.locator(`section.op[data-operation-id="${id}"][data-status="RUNNING"]`).waitFor({ timeout: 30_000 });

  const port = Number(new URL(svc.url).port);
  await svc.stop();
  await page.locator('#conn', { hasText: 'Reconnecting…' }).waitFor();
  await panel.screenshot('12-reconnecting');
  realPython(svc.venv);
  // The same port, data and processors folders: what a restart of the service is.
  again = await startService({ ...svc.config, port }, { log: createLogger('silent'), managerEnv: cleanPipEnv() });

  // The stopped service ended the operation INTERRUPTED; the page learns it, in words, without a reload.
  const follower = page.locator(`section.op[data-operation-id="${id}"][data-status="ERROR"]`);
  await follower.waitFor({ timeout: 30_000 });
  t.regex((await follower.locator('.op-error').textContent()) ?? '', /procenv stopped while this operation ran/);
  await page.locator('#conn:not([data-state="reconnecting"])').waitFor();
  await panel.screenshot('13-recovered');

  // And it goes on with the restarted service: the history has the interrupted operation, its error in words.
  await page.getByRole('link', { name: 'History' }).click();
  const entry = page.locator(`.history tr[data-operation-id="${id}"][data-status="ERROR"]`);
  await entry.waitFor();
  t.regex((await entry.locator('[data-label="Result"]').textContent()) ?? '', /^Failedprocenv stopped while this operation ran/);
  t.is(await page.evaluate(() => (window as unknown as { panelMarker?: string }).panelMarker), 'no reload');
  t.deepEqual(panel.problems.filter((p) => !/ERR_CONNECTION_REFUSED|EventSource/.test(p)), []);
});

// The live event stream (GET /events with a ticket): one stream per tab, operations followed without polling.
(HAS_CHROMIUM ? test.serial : test.serial.skip)('the panel follows an operation live from the event stream, one stream per tab', async (t) => {
  const svc = await startPipService(template, WHEELS);
  t.teardown(() => svc.close());
  const panel = await openPanel(t, browser);
  const { page } = panel;
  const streams: string[] = [];
  page.on('request', (req) => {
    if (new URL(req.url()).pathname === '/events') streams.push(req.url());
  });
  await signIn(panel, svc.url, svc.token);
  // The stream is asked for at sign-in; "connecting" ends either live or, on a procenv without it, in polling.
  await page.locator('#conn:not([data-state="connecting"])').waitFor();
  t.is(await page.locator('#conn').getAttribute('data-state'), 'live');
  await page.getByRole('link', { name: 'sample_pip' }).click();
  await page.locator('tr[data-package="numpy"]').waitFor();
  const before = await shownOperations(page);
  await page.getByLabel('Package name').fill('paneldemo');
  await page.getByLabel('Version (optional)').fill('1.0.0');
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  const id = await newOperation(page, before);
  const follower = page.locator(`section.op[data-operation-id="${id}"][data-status="DONE"]`);
  await follower.waitFor({ timeout: 60_000 });
  t.is(await follower.getAttribute('data-updates'), 'live', 'the follower was fed by events');
  t.regex((await follower.locator('.log').textContent()) ?? '', /Successfully installed paneldemo-1\.0\.0/);
  await page.locator('tr[data-package="paneldemo"]').waitFor();
  t.is(streams.length, 1, 'one EventSource for the tab, across views');
  t.false(streams.some((u) => u.includes(svc.token)), 'the session token never goes into a URL');
  t.deepEqual(panel.problems, []);
});
