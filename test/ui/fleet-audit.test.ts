import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import type { Browser, Page } from 'playwright-core';
import { startTestService, type TestService } from '../helpers/service.ts';
import { CHROMIUM, HAS_CHROMIUM, launchChromium, openPanel, overflowsSideways, signIn, unlabelledControls } from './support.ts';

/**
 * The Fleet tab's Audit and Windows views, and batches scheduled from the panel, in a real browser against a
 * procenv on 127.0.0.1 with the sample processors (all owned by demo; sample_oneshot private). The worker is
 * stopped: what the page starts stays queued where the test reads it. Serial: the machine has two cores.
 */
const test = anyTest as TestFn;
const browserTest = HAS_CHROMIUM ? test.serial : test.serial.skip;
if (!HAS_CHROMIUM) test.skip(`the panel's browser tests need ${CHROMIUM} (apt-get install -y chromium)`, () => undefined);

const range = (name: string, events: Record<string, string>[]) => ({ package: { ecosystem: 'PyPI', name }, ranges: [{ type: 'ECOSYSTEM', events }] });

/** Made-up advisories on the samples' packages: requests 2.28.1 and numpy 1.24.4 of sample_pip. */
const ADVISORIES: Record<string, unknown> = {
  'TEST-REQ-1.json': {
    id: 'TEST-REQ-1', aliases: ['CVE-2099-2001'], summary: 'requests leaks a <b>proxy</b> header', database_specific: { severity: 'MODERATE' },
    affected: [range('requests', [{ introduced: '2.25' }, { fixed: '2.31.0' }])],
  },
  'TEST-NUMPY-1.json': {
    id: 'TEST-NUMPY-1', aliases: ['CVE-2099-1001'], summary: 'numpy before 1.25.0 overflows', database_specific: { severity: 'HIGH' },
    affected: [range('numpy', [{ introduced: '0' }, { fixed: '1.25.0' }])],
  },
};

let browser: Browser;
test.before(async () => {
  if (HAS_CHROMIUM) browser = await launchChromium();
});
test.after.always(async () => {
  await browser?.close();
});

async function withDatabase(t: { teardown(fn: () => unknown): void }): Promise<TestService> {
  const dir = mkdtempSync(join(tmpdir(), 'procenv-ui-osv-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [file, doc] of Object.entries(ADVISORIES)) writeFileSync(join(dir, file), JSON.stringify(doc));
  const svc = await startTestService({ advisories: dir }, { worker: false });
  t.teardown(() => svc.close());
  await svc.advisories?.ready();
  return svc;
}

async function api(svc: TestService, token: string, path: string, method: 'GET' | 'PUT' | 'DELETE' = 'GET', json?: unknown): Promise<any> {
  const res = await svc.http(path.replace(/^\//, ''), { method, headers: { 'x-session-token': token }, json, responseType: 'json', throwHttpErrors: false });
  if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** The packages a processor's audit card lists, as "package version → target". */
async function findings(page: Page, processor: string): Promise<string[]> {
  return page.locator(`.audit-card[data-processor="${processor}"] tbody tr`).evaluateAll((trs) => trs.map((tr) =>
    [(tr as HTMLElement).dataset.package, tr.querySelector('[data-label="Installed"]')?.textContent, '→', tr.querySelector('[data-label="Target"]')?.textContent].join(' ')));
}

browserTest('the owner reads the audit with the database state, ignores an advisory for a while and removes the rule, and fixes a processor as a security batch', async (t) => {
  const svc = await withDatabase(t);
  const token = await svc.login('demo');
  const panel = await openPanel(t, browser);
  const { page } = panel;
  await signIn(panel, svc.url, token);
  await page.getByRole('link', { name: 'Fleet', exact: true }).click();
  await page.getByRole('link', { name: 'Audit', exact: true }).click();
  t.regex(page.url(), /#\/fleet\/audit$/);

  await page.locator('.audit-card[data-processor="sample_pip"]').waitFor();
  t.regex((await page.locator('.audit-database').textContent()) ?? '', /Advisory database procenv-ui-osv-\w+ \(folder\): 2 advisories on 2 packages from 2 files, loaded just now\./);
  t.deepEqual(await findings(page, 'sample_pip'), ['numpy 1.24.4 → 1.25.0', 'requests 2.28.1 → 2.31.0']);
  const req = page.locator('.audit-card[data-processor="sample_pip"] tr[data-package="requests"] li[data-advisory="TEST-REQ-1"]');
  t.is(await req.locator('.advisory-id').textContent(), 'TEST-REQ-1');
  t.is(await req.locator('.badge').first().textContent(), 'moderate');
  t.regex((await req.textContent()) ?? '', /CVE-2099-2001.*requests leaks a <b>proxy<\/b> header.*fixed in 2\.31\.0/);
  t.is(await req.locator('b').count(), 0, 'a summary is text, never markup');
  t.is(await page.locator('.audit-card a[href^="http"]').count(), 0, 'no link leaves procenv');
  await panel.screenshot('audit-01-findings');

  // Filters: severity HIGH or worse leaves numpy only.
  await page.getByLabel('Severity').selectOption('CRITICAL,HIGH');
  await page.locator('.audit-card[data-processor="sample_pip"] tr[data-package="requests"]').waitFor({ state: 'detached' });
  t.deepEqual(await findings(page, 'sample_pip'), ['numpy 1.24.4 → 1.25.0']);
  await page.getByLabel('Severity').selectOption('');
  await page.getByLabel('Processor', { exact: true }).selectOption('sample_pip');
  await page.locator('.audit-card[data-processor="sample_conda"]').waitFor({ state: 'detached' });
  await page.locator('.audit-card[data-processor="sample_pip"] tr[data-package="requests"]').waitFor();
  t.deepEqual(await page.locator('.audit-card').evaluateAll((els) => els.map((el) => (el as HTMLElement).dataset.processor)), ['sample_pip']);

  // Ignore…: a reason, an expiry 30 days ahead by default, this processor (demo is no admin: no other scope).
  await req.getByRole('button', { name: 'Ignore TEST-REQ-1 on requests of sample_pip…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Ignore TEST-REQ-1?' });
  t.is(await dialog.getByRole('radio', { name: 'all processors' }).count(), 0);
  await dialog.getByRole('button', { name: 'Ignore' }).click();
  await dialog.getByText('Give the reason.').waitFor();
  await dialog.getByLabel('Reason').fill('not reachable: no proxy in this processor');
  await panel.screenshot('audit-02-ignore-dialog');
  await dialog.getByRole('button', { name: 'Ignore' }).click();
  await page.locator('.audit-card[data-processor="sample_pip"] tr[data-package="requests"]').waitFor({ state: 'detached' });
  const [rule] = await api(svc, token, '/audit/ignores');
  t.like(rule, { advisory: 'TEST-REQ-1', package: 'requests', processor: 'sample_pip', reason: 'not reachable: no proxy in this processor', userId: 'demo', active: true });
  const days = (rule.expiresAt - Date.now()) / 86_400_000;
  t.true(days > 29 && days < 31, `expires in ${days} days`);
  const ruleRow = page.locator(`.rules tr[data-rule-id="${rule.id}"]`);
  await ruleRow.waitFor();
  t.regex((await ruleRow.textContent()) ?? '', /TEST-REQ-1requests · sample_pipnot reachable: no proxy in this processorby demo.*active/);

  // Show ignored: the advisory comes back, marked with its rule.
  await page.getByLabel('Show ignored advisories').check();
  await req.waitFor();
  t.regex((await req.textContent()) ?? '', /ignored.*ignored by demo until .*: not reachable/);
  t.is(await req.getByRole('button').count(), 0);
  await panel.screenshot('audit-03-show-ignored');
  await page.getByLabel('Show ignored advisories').uncheck();
  await req.waitFor({ state: 'detached' });

  // Remove: the finding is back.
  await ruleRow.getByRole('button', { name: 'Remove the rule on TEST-REQ-1' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Remove the rule' }).click();
  await req.waitFor();
  t.deepEqual(await api(svc, token, '/audit/ignores'), []);
  await page.getByText('No ignore rule.').waitFor();

  // Fix…: a security batch of sample_pip, after saying package → target.
  t.deepEqual(await api(svc, token, '/batches'), []);
  await page.getByRole('button', { name: 'Fix sample_pip…' }).click();
  const fix = page.getByRole('dialog', { name: 'Fix the vulnerable packages of sample_pip?' });
  t.deepEqual(await fix.locator('.dialog-list li').allTextContents(), ['numpy 1.24.4 → 1.25.0', 'requests 2.28.1 → 2.31.0']);
  t.true(await fix.getByRole('radio', { name: 'Now' }).isChecked());
  await panel.screenshot('audit-04-fix-dialog');
  await fix.getByRole('button', { name: 'Fix 2 packages' }).click();
  await page.waitForURL(/#\/fleet\/batches\//);
  const [batch] = await api(svc, token, '/batches');
  t.like(batch, { action: 'security', processors: ['sample_pip'] });
  t.is(batch.operations.length, 1);
  t.is(batch.operations[0].notBefore, undefined, 'now: not scheduled');
  t.deepEqual(panel.problems, []);
});

browserTest('without an advisory database the Audit tab says so and how one is configured', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const panel = await openPanel(t, browser);
  const { page } = panel;
  await signIn(panel, svc.url, await svc.login('demo'));
  await page.goto(`${svc.url}/ui/#/fleet/audit`);
  await page.getByText('No advisory database is configured').waitFor();
  t.regex((await page.locator('.audit-database').textContent()) ?? '', /advisories configuration key or the PROCENV_ADVISORIES variable/);
  t.is(await page.locator('.audit-card').count(), 0);
  await panel.screenshot('audit-05-no-database');
  t.deepEqual(panel.problems, []);
});

browserTest('a user who cannot change the processors reads their audit and the windows, with no Fix, Ignore or window change offered, and it fits 375 px', async (t) => {
  const svc = await withDatabase(t);
  const admin = await svc.login('root', { admin: true });
  await api(svc, admin, '/windows/weekend', 'PUT', { schedule: { days: ['sat', 'sun'], time: '02:00' }, durationMinutes: 240, timezone: 'Europe/Rome' });
  const panel = await openPanel(t, browser, { width: 375, height: 812 });
  const { page } = panel;
  await signIn(panel, svc.url, await svc.login('stranger'));
  await page.goto(`${svc.url}/ui/#/fleet/audit`);
  await page.locator('.audit-card[data-processor="sample_pip"] tr[data-package="requests"]').waitFor();
  t.is(await page.locator('.audit-card[data-processor="sample_oneshot"]').count(), 0, 'private: not read');
  t.is(await page.locator('.fleet-audit-tab').getByRole('button', { name: /^(Fix|Ignore)/ }).count(), 0);
  t.is(await overflowsSideways(page), 0);
  t.deepEqual(await unlabelledControls(page), []);
  await panel.screenshot('audit-06-stranger-375px');

  await page.getByRole('link', { name: 'Windows', exact: true }).click();
  const row = page.locator('.windows-table tr[data-window="weekend"]');
  await row.waitFor();
  t.regex((await row.textContent()) ?? '', /Saturday and Sunday at 02:00.*Europe\/Rome.*4 h/);
  t.is(await page.locator('.fleet-windows-tab').getByRole('button').count(), 0);
  t.is(await overflowsSideways(page), 0);
  await panel.screenshot('windows-01-stranger-375px');
  t.deepEqual(panel.problems, []);
});

browserTest('an admin creates a weekly window from the panel, sees when it next opens, and deletes it', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const admin = await svc.login('root', { admin: true });
  const panel = await openPanel(t, browser);
  const { page } = panel;
  await signIn(panel, svc.url, admin);
  await page.goto(`${svc.url}/ui/#/fleet/windows`);
  await page.getByText('No maintenance window is defined.').waitFor();
  await page.getByRole('button', { name: 'New window…' }).click();
  const dialog = page.getByRole('dialog', { name: 'New maintenance window' });
  await dialog.getByLabel('Name').fill('nightly');
  await dialog.getByLabel('Saturday').uncheck();
  await dialog.getByRole('button', { name: 'Create' }).click();
  await dialog.getByText('Choose at least one day.').waitFor();
  await dialog.getByLabel('Tuesday').check();
  await dialog.getByLabel('Thursday').check();
  await dialog.getByLabel('Opens at').fill('03:30');
  await dialog.getByLabel('Duration (minutes)').fill('90');
  await dialog.getByLabel('Time zone').fill('Asia/Tokyo');
  await panel.screenshot('windows-02-new-dialog');
  await dialog.getByRole('button', { name: 'Create' }).click();
  const row = page.locator('.windows-table tr[data-window="nightly"]');
  await row.waitFor();
  const [w] = await api(svc, admin, '/windows');
  t.like(w, { name: 'nightly', schedule: { days: ['tue', 'thu'], time: '03:30' }, durationMinutes: 90, timezone: 'Asia/Tokyo' });
  t.regex((await row.textContent()) ?? '', /Tuesday and Thursday at 03:30.*Asia\/Tokyo.*1 h 30 min/);
  const now = row.locator('.window-now');
  if (w.open) t.regex((await now.textContent()) ?? '', /^open until /);
  else {
    t.regex((await now.textContent()) ?? '', /^closed next opens .*Asia\/Tokyo$/);
    t.is(await now.locator('time').getAttribute('datetime'), new Date(w.nextOpening).toISOString());
  }
  await panel.screenshot('windows-03-list');

  // Edit…: the name stays, the rest changes.
  await row.getByRole('button', { name: 'Edit nightly…' }).click();
  const change = page.getByRole('dialog', { name: 'Change the window nightly' });
  t.is(await change.getByLabel('Name').getAttribute('readonly'), '');
  t.true(await change.getByLabel('Thursday').isChecked());
  await change.getByRole('radio', { name: 'Cron expression' }).check();
  await change.getByRole('textbox', { name: /^Cron \(/ }).fill('15 1 * * 0');
  await change.getByLabel('Duration (minutes)').fill('60');
  await change.getByRole('button', { name: 'Save' }).click();
  await row.getByText('cron 15 1 * * 0').waitFor();
  t.like((await api(svc, admin, '/windows'))[0], { name: 'nightly', schedule: '15 1 * * 0', durationMinutes: 60, timezone: 'Asia/Tokyo' });

  await row.getByRole('button', { name: 'Delete nightly…' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete the window' }).click();
  await page.getByText('No maintenance window is defined.').waitFor();
  t.deepEqual(await api(svc, admin, '/windows'), []);
  t.deepEqual(panel.problems, []);
});

browserTest('a batch scheduled from the panel after a time waits for exactly that time, and one scheduled in a window is bound to it; the batch view says when each starts', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  await api(svc, await svc.login('root', { admin: true }), '/windows/weekend', 'PUT', { schedule: '0 2 * * 6', durationMinutes: 240, timezone: 'UTC' });
  const token = await svc.login('demo');
  // A browser half an hour off whole hours from the service: the offset sent with the time must be the browser's.
  const panel = await openPanel(t, browser, { timezoneId: 'Asia/Kolkata' });
  const { page } = panel;
  await signIn(panel, svc.url, token);
  await page.goto(`${svc.url}/ui/#/fleet/updates`);
  t.is(await page.evaluate(() => new Date().getTimezoneOffset()), -330);

  // Two days ahead, to the minute, in the browser's time.
  const { local, ms } = await page.evaluate(() => {
    const d = new Date(Date.now() + 2 * 86_400_000);
    d.setSeconds(0, 0);
    // No named helper here: the test's loader would wrap it in a function the page does not have.
    const two = [d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes()].map((n) => String(n).padStart(2, '0'));
    return { local: `${d.getFullYear()}-${two[0]}-${two[1]}T${two[2]}:${two[3]}`, ms: d.getTime() };
  });
  await page.getByRole('button', { name: 'Upgrade all of sample_pip…' }).click();
  let dialog = page.getByRole('dialog', { name: 'Upgrade all outdated packages of sample_pip?' });
  await dialog.getByRole('radio', { name: 'After a date and time' }).check();
  await dialog.getByRole('button', { name: /^Upgrade/ }).click();
  await dialog.getByText('Give the date and time to start after.').waitFor();
  await dialog.getByLabel(/^Not before/).fill(local);
  await panel.screenshot('schedule-01-after');
  await dialog.getByRole('button', { name: /^Upgrade/ }).click();
  await page.waitForURL(/#\/fleet\/batches\//);
  const [after] = await api(svc, token, '/batches');
  t.is(after.operations.length, 1);
  t.is(after.operations[0].notBefore, ms);
  t.is((await api(svc, token, `/operations/${after.operations[0].operationId}`)).notBefore, ms);
  const planned = page.locator(`.batch-op[data-operation-id="${after.operations[0].operationId}"] .planned`);
  await planned.waitFor();
  t.is(await planned.locator('time').getAttribute('datetime'), new Date(ms).toISOString());
  t.regex((await planned.textContent()) ?? '', /^planned for /);
  await panel.screenshot('schedule-02-batch-planned');

  // In a window, spread over 30 minutes: from Packages, Upgrade on….
  await page.goto(`${svc.url}/ui/#/fleet`);
  await page.getByLabel('Package name').fill('numpy');
  await page.getByText('2 packages match “numpy”; 1–2 shown.').waitFor();
  await page.locator('.fleet-search tr[data-package="numpy"][data-manager="pip"]').getByRole('button', { name: /^Upgrade/ }).click();
  dialog = page.getByRole('dialog', { name: 'Upgrade numpy?' });
  await dialog.getByRole('radio', { name: 'In a maintenance window' }).check();
  await dialog.getByLabel('Window', { exact: true }).selectOption('weekend');
  await dialog.getByLabel(/^Spread the starts over/).fill('30');
  await panel.screenshot('schedule-03-window');
  await dialog.getByRole('button', { name: /^Upgrade numpy on/ }).click();
  await page.waitForURL(/#\/fleet\/batches\//);
  const batches = await api(svc, token, '/batches');
  const inWindow = batches.find((b: any) => b.batchId !== after.batchId);
  t.true(inWindow.operations.length >= 1);
  for (const op of inWindow.operations) {
    t.is(op.window, 'weekend');
    t.is((await api(svc, token, `/operations/${op.operationId}`)).window, 'weekend');
  }
  t.deepEqual(panel.problems, []);

  // The window cannot be deleted while those wait for it, and the admin is told why in words.
  const adminPanel = await openPanel(t, browser);
  await signIn(adminPanel, svc.url, await svc.login('root', { admin: true }));
  await adminPanel.page.goto(`${svc.url}/ui/#/fleet/windows`);
  await adminPanel.page.getByRole('button', { name: 'Delete weekend…' }).click();
  await adminPanel.page.getByRole('dialog').getByRole('button', { name: 'Delete the window' }).click();
  await adminPanel.page.getByText(`weekend is not deleted: ${inWindow.operations.length} queued operation${inWindow.operations.length === 1 ? '' : 's'} still wait for it. Cancel them (Fleet › Batches) or let them run, then delete it.`).waitFor();
  t.is((await api(svc, token, '/windows')).length, 1);
  await adminPanel.screenshot('windows-04-in-use');
  t.deepEqual(adminPanel.problems, []);
});

browserTest('an admin ignores an advisory on all processors at once, and the rule hides it everywhere', async (t) => {
  const svc = await withDatabase(t);
  const admin = await svc.login('root', { admin: true });
  const panel = await openPanel(t, browser, { width: 375, height: 812 });
  const { page } = panel;
  await signIn(panel, svc.url, admin);
  await page.goto(`${svc.url}/ui/#/fleet/audit`);
  await page.locator('.audit-card[data-processor="sample_conda"] tr[data-package="numpy"]').waitFor();
  await page.getByRole('button', { name: 'Ignore TEST-NUMPY-1 on numpy of sample_pip…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Ignore TEST-NUMPY-1?' });
  await dialog.getByLabel('Reason').fill('accepted fleet-wide until the images are rebuilt');
  await dialog.getByRole('radio', { name: 'all processors' }).check();
  t.is(await overflowsSideways(page), 0);
  await panel.screenshot('audit-07-admin-ignore-375px');
  await dialog.getByRole('button', { name: 'Ignore' }).click();
  await page.locator('.audit-card[data-processor="sample_conda"]').waitFor({ state: 'detached' });
  t.deepEqual(await findings(page, 'sample_pip'), ['requests 2.28.1 → 2.31.0']);
  const [rule] = await api(svc, admin, '/audit/ignores');
  t.like(rule, { advisory: 'TEST-NUMPY-1', package: 'numpy', active: true });
  t.is(rule.processor, undefined);
  t.regex((await page.locator(`.rules tr[data-rule-id="${rule.id}"]`).textContent()) ?? '', /numpy · all processors/);
  t.is(await overflowsSideways(page), 0);
  t.deepEqual(panel.problems, []);
});
