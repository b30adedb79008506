import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import type { Browser, Page } from 'playwright-core';
import { startTestService, type TestService } from '../helpers/service.ts';
import { CHROMIUM, HAS_CHROMIUM, launchChromium, openPanel, overflowsSideways, signIn, unlabelledControls } from './support.ts';

/**
 * The panel's Fleet tab in a real browser (Debian's Chromium driven by playwright-core) against a procenv the test
 * starts on 127.0.0.1 with the sample processors. The queue's worker is stopped, so what the page starts stays
 * queued where the test can see it (and cancel it), and no package manager runs. Serial: the machine has two cores.
 */
const test = anyTest as TestFn;
const browserTest = HAS_CHROMIUM ? test.serial : test.serial.skip;
// The reason, as a test title ava lists among the skipped ones.
if (!HAS_CHROMIUM) test.skip(`the panel's browser tests need ${CHROMIUM} (apt-get install -y chromium)`, () => undefined);

/** A reason as a tenant could write it: markup that must stay text. */
const REASON = '<img src=x onerror="window.pwned=1"> model v3 needs numpy 1.x';

let browser: Browser;
test.before(async () => {
  if (HAS_CHROMIUM) browser = await launchChromium();
});
test.after.always(async () => {
  await browser?.close();
});

async function api(svc: TestService, token: string, path: string): Promise<any> {
  const res = await svc.http(path.replace(/^\//, ''), { headers: { 'x-session-token': token }, responseType: 'json' });
  if (res.statusCode !== 200) throw new Error(`GET ${path}: ${res.statusCode} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** The cells of one summary row, by column. */
async function summaryRow(page: Page, type: string): Promise<Record<string, string>> {
  return page.locator(`.fleet-summary tr[data-type="${type}"]`).evaluate((tr) => Object.fromEntries(
    [...tr.querySelectorAll<HTMLElement>('[data-label]')].map((c) => [c.dataset.label!, c.textContent ?? ''])));
}

/** Where a search row says a package is installed: "processor version [→ latest] [held]" per processor. */
async function whereInstalled(page: Page, name: string, manager: string): Promise<string[]> {
  return page.locator(`.fleet-search tr[data-package="${name}"][data-manager="${manager}"] .where > li`).evaluateAll((lis) => lis.map((li) =>
    [li.querySelector('a')?.textContent, li.querySelector('.version')?.textContent, li.querySelector('.badge-outdated')?.textContent, li.querySelector('.badge-held')?.textContent]
      .filter(Boolean).join(' ')));
}

browserTest('an owner sees the fleet summary, finds numpy where it is installed and upgradable, holds and releases it from the search and from the processor, and upgrades it on a chosen processor as a batch', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const token = await svc.login('demo');
  const panel = await openPanel(t, browser);
  const { page } = panel;
  await signIn(panel, svc.url, token);
  await page.evaluate(() => Object.assign(window, { panelMarker: 'no reload' }));
  await page.getByRole('link', { name: 'Fleet', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'Fleet' }).waitFor();
  t.regex(page.url(), /#\/fleet$/);

  // The summary: the three samples, per manager and type, as GET /packages/summary counts them.
  await page.locator('.fleet-summary tr[data-type="python_pip_2"]').waitFor();
  t.deepEqual(await summaryRow(page, 'python_pip_2'), { Manager: 'pip', Type: 'python_pip_2', Processors: '1', Packages: '7', Unique: '7', Outdated: '3', Held: '0' });
  t.deepEqual(await summaryRow(page, 'pip_oneshot'), { Manager: 'pip', Type: 'pip_oneshot', Processors: '1', Packages: '3', Unique: '3', Outdated: '1', Held: '0' });
  t.deepEqual(await summaryRow(page, 'conda'), { Manager: 'conda', Type: 'conda', Processors: '1', Packages: '4', Unique: '4', Outdated: '0', Held: '0' });
  await page.locator('.fleet-search tbody tr').first().waitFor();
  t.regex((await page.locator('.search-status').textContent()) ?? '', /^12 packages; 1–12 shown\.$/);

  // numpy: installed on all three, upgradable on the two pip ones, one row per manager.
  await page.getByLabel('Package name').fill('numpy');
  await page.getByText('2 packages match “numpy”; 1–2 shown.').waitFor();
  t.deepEqual(await whereInstalled(page, 'numpy', 'pip'), ['sample_oneshot 1.26.4 → 2.1.0', 'sample_pip 1.24.4 → 2.0.2']);
  t.deepEqual(await whereInstalled(page, 'numpy', 'conda'), ['sample_conda 1.21.5']);
  await page.getByLabel('Manager', { exact: true }).selectOption('conda');
  await page.getByText('1 package match “numpy”; 1–1 shown.').waitFor();
  t.is(await page.locator('.fleet-search tr[data-manager="pip"]').count(), 0);
  await page.getByLabel('Manager', { exact: true }).selectOption('');
  await page.getByLabel('Updates', { exact: true }).selectOption('true');
  // The count reads as it did for conda alone a moment ago: wait for the rows themselves (the conda one goes, as
  // nothing newer is known for it; the pip one stays).
  await page.locator('.fleet-search tr[data-manager="pip"][data-package="numpy"]').waitFor();
  await page.locator('.fleet-search tr[data-manager="conda"]').waitFor({ state: 'detached' });
  await page.getByText('1 package match “numpy”; 1–1 shown.').waitFor();
  t.is(await page.locator('.fleet-search tr[data-manager="pip"][data-package="numpy"]').count(), 1);
  await page.getByLabel('Updates', { exact: true }).selectOption('');
  await page.getByText('2 packages match “numpy”; 1–2 shown.').waitFor();
  await panel.screenshot('fleet-01-packages');

  // Hold from the search row: the reason is asked for, the hold is procenv's, the row says who and why, as text.
  await page.getByRole('button', { name: 'Hold numpy on sample_pip…' }).click();
  const holdDialog = page.getByRole('dialog', { name: 'Hold numpy on sample_pip?' });
  await holdDialog.waitFor();
  await holdDialog.getByRole('button', { name: 'Hold numpy' }).click();
  await holdDialog.getByText('Give the reason.').waitFor();
  await holdDialog.getByLabel('Reason').fill(REASON);
  await panel.screenshot('fleet-02-hold-reason');
  await holdDialog.getByRole('button', { name: 'Hold numpy' }).click();
  const pipNumpy = page.locator('.fleet-search tr[data-package="numpy"][data-manager="pip"] li[data-processor="sample_pip"]');
  await page.locator('.fleet-search li[data-processor="sample_pip"][data-held="true"]').waitFor();
  t.like((await api(svc, token, '/processors/sample_pip/holds'))[0], { package: 'numpy', reason: REASON, userId: 'demo', version: '1.24.4' });
  t.is(await pipNumpy.locator('.hold-words').textContent(), `held by demo: ${REASON}`);
  t.regex((await pipNumpy.locator('.badge-held').getAttribute('title')) ?? '', /^Held by demo on .* at 1\.24\.4: <img src=x/);
  t.is(await page.locator('img').count(), 0, 'the reason stays text');
  t.deepEqual(await whereInstalled(page, 'numpy', 'pip'), ['sample_oneshot 1.26.4 → 2.1.0', 'sample_pip 1.24.4 → 2.0.2 held']);
  t.is((await summaryRow(page, 'python_pip_2')).Held, '1');
  await page.getByLabel('Holds', { exact: true }).selectOption('true');
  await page.getByText('1 package match “numpy”; 1–1 shown.').waitFor();
  await page.getByLabel('Holds', { exact: true }).selectOption('');
  await panel.screenshot('fleet-03-held');

  // The processor's package list shows it held, with who and why, and offers no upgrade or removal of it.
  await pipNumpy.getByRole('link', { name: 'sample_pip' }).click();
  const numpyRow = page.locator('.packages tr[data-package="numpy"]');
  await page.locator('.packages tr[data-package="numpy"][data-held="true"]').waitFor();
  t.is(await numpyRow.locator('.hold-words').textContent(), `held by demo: ${REASON}`);
  t.is(await numpyRow.getByRole('button', { name: /^(Upgrade|Remove) numpy/ }).count(), 0);
  t.is(await numpyRow.getByRole('checkbox').count(), 0);
  t.is(await page.getByRole('button', { name: 'Upgrade requests to 2.32.3' }).count(), 1, 'the others are still offered');
  await panel.screenshot('fleet-04-processor-held');
  // Released there: asked first, naming whose hold it is.
  await numpyRow.getByRole('button', { name: 'Release numpy…' }).click();
  const releaseDialog = page.getByRole('dialog', { name: 'Release numpy on sample_pip?' });
  t.regex((await releaseDialog.textContent()) ?? '', /Held by demo on .*: <img src=x/);
  await releaseDialog.getByRole('button', { name: 'Release numpy' }).click();
  await page.locator('.packages tr[data-package="numpy"][data-held="false"]').waitFor();
  t.deepEqual(await api(svc, token, '/processors/sample_pip/holds'), []);
  t.is(await numpyRow.getByRole('button', { name: 'Upgrade numpy to 2.0.2' }).count(), 1);
  // And held there again, then released from the fleet's search.
  await numpyRow.getByRole('button', { name: 'Hold numpy…' }).click();
  await page.getByRole('dialog', { name: 'Hold numpy on sample_pip?' }).getByLabel('Reason').fill('until the release');
  await page.keyboard.press('Enter');
  await page.locator('.packages tr[data-package="numpy"][data-held="true"]').waitFor();
  t.like((await api(svc, token, '/processors/sample_pip/holds'))[0], { package: 'numpy', reason: 'until the release' });
  await page.goBack();
  await page.getByRole('heading', { level: 1, name: 'Fleet' }).waitFor();
  await page.getByLabel('Package name').fill('numpy');
  await page.getByText('2 packages match “numpy”; 1–2 shown.').waitFor();
  await page.locator('.fleet-search li[data-processor="sample_pip"][data-held="true"] .hold-words', { hasText: 'held by demo: until the release' }).waitFor();
  await page.getByRole('button', { name: 'Release numpy on sample_pip…' }).click();
  await page.getByRole('dialog', { name: 'Release numpy on sample_pip?' }).getByRole('button', { name: 'Release numpy' }).click();
  await page.locator('.fleet-search tr[data-manager="pip"][data-package="numpy"] li[data-processor="sample_pip"][data-held="false"]').waitFor();
  t.deepEqual(await api(svc, token, '/processors/sample_pip/holds'), []);

  // Upgrade on…: the processors with a newer version are ticked; one is unticked; the button says how many.
  await page.locator('.fleet-search tr[data-manager="pip"]').getByRole('button', { name: 'Upgrade numpy on processors…' }).click();
  const upgrade = page.getByRole('dialog', { name: 'Upgrade numpy?' });
  await upgrade.waitFor();
  t.true(await upgrade.getByRole('checkbox', { name: /sample_pip/ }).isChecked());
  t.true(await upgrade.getByRole('checkbox', { name: /sample_oneshot/ }).isChecked());
  await upgrade.getByRole('button', { name: 'Upgrade numpy on 2 processors' }).waitFor();
  await upgrade.getByRole('checkbox', { name: /sample_oneshot/ }).uncheck();
  await panel.screenshot('fleet-05-upgrade-choose');
  await upgrade.getByRole('button', { name: 'Upgrade numpy on 1 processor' }).click();
  await page.waitForURL(/#\/fleet\/batches\/[0-9a-f-]+$/);
  const [batch] = await api(svc, token, '/batches');
  t.like(batch, { action: 'upgrade', processors: ['sample_pip'], packages: [{ name: 'numpy' }] });
  t.deepEqual((await svc.store.findOperation(batch.results[0].operationId))?.commands, ['upgradePackage/numpy/']);
  const item = page.locator(`.batch[data-batch-id="${batch.batchId}"]`);
  await item.locator('.batch-results tr[data-processor="sample_pip"]').waitFor();
  t.is(await item.locator('h3').textContent(), 'Upgrade numpy · 1 processor');

  // At 375 px: nothing forces sideways scrolling, with the search's buttons on the page.
  await page.getByRole('link', { name: 'Packages', exact: true }).click();
  await page.getByLabel('Package name').fill('numpy');
  await page.getByText('2 packages match “numpy”; 1–2 shown.').waitFor();
  await page.setViewportSize({ width: 375, height: 812 });
  t.is(await overflowsSideways(page), 0);
  await panel.screenshot('fleet-06-packages-375px');
  t.deepEqual(await unlabelledControls(page), []);
  t.is(await page.evaluate(() => (window as unknown as { panelMarker?: string; pwned?: number }).panelMarker), 'no reload');
  t.is(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
  t.deepEqual(panel.problems, []);
});

browserTest('the search pages through its results 20 at a time, and a filter starts again at the first page', async (t) => {
  // One more processor with 33 packages: 45 in all with the samples' 12.
  const svc = await startTestService({}, {
    worker: false,
    beforeStart(dir) {
      mkdirSync(join(dir, 'many_pip'));
      writeFileSync(join(dir, 'many_pip', 'processor.json'), JSON.stringify({ processorId: 'b3c1e0f2-5a4d-4c6b-9e8f-7a6b5c4d3e2f', type: 'pip_oneshot', userId: 'demo', isPublic: 0 }));
      const uptodate = Array.from({ length: 33 }, (_, i) => ({ managerName: 'pip', packageName: `pkg-${String(i).padStart(2, '0')}`, currentVersion: '1.0' }));
      writeFileSync(join(dir, 'many_pip', 'packagesInfo.json'), JSON.stringify({ outdated: [], uptodate, packageManager: { name: 'pip', version: '24.0', major: '24', minor: '0', patch: '' } }));
    },
  });
  t.teardown(() => svc.close());
  const panel = await openPanel(t, browser);
  const { page } = panel;
  await signIn(panel, svc.url, await svc.login('demo'));
  await page.goto(`${svc.url}/ui/#/fleet`);
  const names = () => page.locator('.fleet-search tbody tr').evaluateAll((trs) => trs.map((tr) => `${(tr as HTMLElement).dataset.manager}:${(tr as HTMLElement).dataset.package}`));
  await page.getByText('45 packages; 1–20 shown.').waitFor();
  t.is(await page.getByRole('button', { name: 'Previous page' }).isDisabled(), true);
  const first = await names();
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.getByText('45 packages; 21–40 shown.').waitFor();
  const second = await names();
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.getByText('45 packages; 41–45 shown.').waitFor();
  t.is(await page.getByRole('button', { name: 'Next page' }).isDisabled(), true);
  const third = await names();
  t.is(new Set([...first, ...second, ...third]).size, 45, 'every package once');
  await page.getByLabel('Package name').fill('pkg-');
  await page.getByText('33 packages match “pkg-”; 1–20 shown.').waitFor();
  await page.getByRole('button', { name: 'Previous page' }).waitFor();
  t.is(await page.getByRole('button', { name: 'Previous page' }).isDisabled(), true);
  t.deepEqual(panel.problems, []);
});

browserTest('the Updates tab lists each processor\'s outdated packages, and Check for updates queues refreshes', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const token = await svc.login('demo');
  const panel = await openPanel(t, browser);
  const { page } = panel;
  await signIn(panel, svc.url, token);
  await page.goto(`${svc.url}/ui/#/fleet/updates`);
  const pip = page.locator('.update-card[data-processor="sample_pip"]');
  await pip.locator('tbody tr').first().waitFor();
  t.deepEqual(await page.locator('.update-card').evaluateAll((els) => els.map((el) => (el as HTMLElement).dataset.processor)), ['sample_oneshot', 'sample_pip']);
  t.deepEqual(await pip.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent).join(' | '))), [
    'numpy | 1.24.4 | 2.0.2 | newer version', 'requests | 2.28.1 | 2.32.3 | newer version', 'Shapely | 1.8.5 | 2.0.6 | newer version',
  ]);
  t.is(await pip.locator('.update-counts').textContent(), '3 updates');
  t.deepEqual(await page.locator('.update-card[data-processor="sample_oneshot"] tbody th').allTextContents(), ['numpy']);
  t.is(await page.locator('.fleet-updates-tab > [role=status]').textContent(), '4 updates on 2 processors.');
  await page.getByLabel('Also processors without updates').check();
  await page.locator('.update-card[data-processor="sample_conda"]').getByText('up to date').waitFor();
  await page.getByLabel('Also processors without updates').uncheck();
  await page.locator('.update-card[data-processor="sample_conda"]').waitFor({ state: 'detached' });
  await panel.screenshot('fleet-10-updates');

  // Check for updates of one processor: a refresh (an operation without commands) is queued for it.
  await pip.getByRole('button', { name: 'Check for updates of sample_pip' }).click();
  await page.getByText('A check for updates is queued for sample_pip.').waitFor();
  await pip.getByText('check queued').waitFor();
  let queued = await api(svc, token, '/operations?status=CREATED');
  t.deepEqual(queued.map((o: any) => [o.productName, o.commands]), [['sample_pip', []]]);
  // Then of every processor the owner may change.
  await page.getByRole('button', { name: 'Check for updates on all you can change' }).click();
  await page.getByText('A check for updates is queued for sample_conda, sample_oneshot, sample_pip.').waitFor();
  queued = await api(svc, token, '/operations?status=CREATED');
  t.deepEqual(queued.map((o: any) => o.productName).sort(), ['sample_conda', 'sample_oneshot', 'sample_pip', 'sample_pip']);
  t.true(queued.every((o: any) => o.commands.length === 0));

  // Two processors selected: the bar offers the check and the upgrade of everything on both.
  await page.getByRole('checkbox', { name: 'Select sample_pip' }).check();
  await page.getByRole('checkbox', { name: 'Select sample_oneshot' }).check();
  const bar = page.getByRole('region', { name: 'Selected processors' });
  await bar.getByText('2 processors selected').waitFor();
  await bar.getByRole('button', { name: 'Upgrade all on selected…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Upgrade all outdated packages on 2 processors?' });
  t.deepEqual(await dialog.getByRole('listitem').allTextContents(), ['sample_oneshot: 1 update', 'sample_pip: 3 updates']);
  await panel.screenshot('fleet-11-upgrade-selected');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  t.deepEqual(await api(svc, token, '/batches'), [], 'nothing started');
  t.deepEqual(await unlabelledControls(page), []);
  t.deepEqual(panel.problems, []);
});

// Nothing on this branch marks an update as security (no advisory database yet): the page is given such an answer of
// GET /updates by the test, in the shape procenv's OpenAPI gives it, to check how it is shown.
browserTest('a security update (an answer of GET /updates the test makes up) is marked, counted and listed first', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const token = await svc.login('demo');
  const panel = await openPanel(t, browser);
  const { page } = panel;
  await page.route((url) => url.pathname === '/updates', (route) => route.fulfill({
    contentType: 'application/json',
    body: JSON.stringify([{
      processor: 'sample_pip', type: 'python_pip_2', manager: 'pip', checkedAt: new Date().toISOString(), counts: { security: 1, regular: 1 },
      updates: [
        { package: 'numpy', current: '1.24.4', available: '2.0.2', type: 'regular' },
        { package: 'requests', current: '2.28.1', available: '2.32.3', type: 'security', advisories: ['<b>PYSEC-1</b>', 'GHSA-x'], fixedVersion: '2.31.0' },
      ],
    }]),
  }));
  await signIn(panel, svc.url, token);
  await page.goto(`${svc.url}/ui/#/fleet/updates`);
  const pip = page.locator('.update-card[data-processor="sample_pip"]');
  await pip.locator('tbody tr').first().waitFor();
  t.deepEqual(await pip.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.type)), ['security', 'regular']);
  t.is(await pip.locator('tr[data-package="requests"] [data-label="Kind"]').textContent(), 'security<b>PYSEC-1</b>, GHSA-x');
  t.is(await pip.locator('tr[data-package="requests"] [data-label="Available"]').textContent(), '2.32.3fixed in 2.31.0');
  t.is(await pip.locator('.update-counts').textContent(), '1 security update1 other');
  t.is(await page.locator('.fleet-updates-tab > [role=status]').textContent(), '1 security update, 1 other on 1 processor.');
  await panel.screenshot('fleet-12-updates-security');

  // Security updates only: asks first, naming the fixed versions; this procenv has no advisory database, and says so.
  await pip.getByRole('button', { name: 'Install the security updates of sample_pip…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Install the security updates of sample_pip?' });
  t.deepEqual(await dialog.getByRole('listitem').allTextContents(), ['requests 2.28.1 → 2.31.0 (<b>PYSEC-1</b>, GHSA-x)']);
  await dialog.getByRole('button', { name: 'Install 1 security update' }).click();
  await page.getByRole('alert').getByText(/^The security updates of sample_pip could not be started: a security batch needs the advisory database/).waitFor();
  t.deepEqual(await api(svc, token, '/batches'), []);
  t.deepEqual(panel.problems, []);
});

browserTest('Upgrade all from the Updates tab starts a batch that the Batches list shows with its results, and cancelling it stops its queued operation', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const token = await svc.login('demo');
  // A hold, so that the batch has a package to leave alone and say so.
  const held = await svc.http.put('processors/sample_pip/holds/Shapely', { headers: { 'x-session-token': token }, json: { reason: 'GEOS 3.8 on the nodes' } });
  t.is(held.statusCode, 201);
  const panel = await openPanel(t, browser);
  const { page } = panel;
  await signIn(panel, svc.url, token);
  await page.goto(`${svc.url}/ui/#/fleet/updates`);
  const pip = page.locator('.update-card[data-processor="sample_pip"]');
  await pip.getByRole('button', { name: 'Upgrade all of sample_pip…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Upgrade all outdated packages of sample_pip?' });
  t.deepEqual(await dialog.getByRole('listitem').allTextContents(), ['numpy 1.24.4 → 2.0.2', 'requests 2.28.1 → 2.32.3', 'Shapely 1.8.5 → 2.0.6']);
  t.regex((await dialog.textContent()) ?? '', /Held packages are left alone/);
  await panel.screenshot('fleet-20-upgrade-all-confirm');
  await dialog.getByRole('button', { name: 'Upgrade 3 packages' }).click();
  await page.waitForURL(/#\/fleet\/batches\/[0-9a-f-]+$/);
  await page.getByText('The upgrade of everything outdated on sample_pip: 1 operation queued').waitFor();

  const [batch] = await api(svc, token, '/batches');
  t.like(batch, { action: 'upgrade-all', processors: ['sample_pip'], results: [{ processor: 'sample_pip', held: ['Shapely'] }] });
  t.true(page.url().endsWith(`#/fleet/batches/${batch.batchId}`));
  const item = page.locator(`.batch[data-batch-id="${batch.batchId}"]`);
  await item.locator('.batch-results').waitFor();
  t.is(await item.getAttribute('data-state'), 'running');
  t.is(await item.locator('h3').textContent(), 'Upgrade everything outdated · 1 processor');
  t.is(await item.locator('.batch-counts').textContent(), '1 queued');
  const result = item.locator('.batch-results tr[data-processor="sample_pip"]');
  t.is(await result.locator('[data-label="Result"]').textContent(), 'Queued');
  t.is(await result.locator('[data-label="Changes"]').textContent(), 'upgrade numpy 2.0.2, upgrade requests 2.32.3');
  t.is(await result.locator('[data-label="Notes"]').textContent(), 'held, left alone: Shapely');
  t.is(await page.evaluate(() => document.activeElement?.textContent), 'Upgrade everything outdated · 1 processor', 'the focus is on the new batch');
  await panel.screenshot('fleet-21-batch-running');

  // Another batch, made through the API: a refusal and a skip, with their reasons, listed newest first.
  const other = await svc.http.post('batches', { headers: { 'x-session-token': token }, json: { processors: ['sample_conda', 'nope'], action: 'upgrade-all' }, responseType: 'json' });
  t.is(other.statusCode, 202);
  await page.getByRole('link', { name: 'Packages', exact: true }).click();
  await page.getByRole('link', { name: 'Batches', exact: true }).click();
  const items = page.locator('.batch');
  await items.nth(1).waitFor();
  t.deepEqual(await items.evaluateAll((els) => els.map((el) => (el as HTMLElement).dataset.batchId)), [(other.body as { batchId: string }).batchId, batch.batchId]);
  const newest = items.nth(0);
  t.is(await newest.getAttribute('data-state'), 'finished');
  t.is(await newest.locator('.batch-counts').textContent(), '1 skipped · 1 refused');
  await newest.getByRole('button', { name: 'Show results' }).click();
  t.is(await newest.locator('tr[data-processor="nope"] [data-label="Result"]').textContent(), 'refusedno processor "nope" that you can read');
  t.is(await newest.locator('tr[data-processor="sample_conda"] [data-label="Result"]').textContent(), 'skippednothing to upgrade: every package is up to date');
  t.is(await newest.getByRole('button', { name: /^Cancel/ }).count(), 0, 'nothing left to cancel');

  // Cancel: asked first; the queued operation ends STOPPED, and the list says so without a reload.
  const running = page.locator(`.batch[data-batch-id="${batch.batchId}"]`);
  await running.getByRole('button', { name: /^Cancel the batch/ }).click();
  const cancel = page.getByRole('dialog', { name: 'Cancel this batch?' });
  t.regex((await cancel.textContent()) ?? '', /1 queued operation is dropped and never run/);
  await cancel.getByRole('button', { name: 'Cancel batch' }).click();
  await page.locator(`.batch[data-batch-id="${batch.batchId}"][data-state="cancelled"]`).waitFor();
  t.is((await svc.store.findOperation(batch.results[0].operationId))?.status, 'STOPPED');
  t.like(await api(svc, token, `/batches/${batch.batchId}`), { cancelledBy: 'demo', progress: { finished: true, byStatus: { STOPPED: 1, CREATED: 0 } } });
  t.is(await running.locator('.batch-counts').textContent(), '1 stopped');
  t.is(await running.getByRole('button', { name: /^Cancel the batch/ }).count(), 0);
  await panel.screenshot('fleet-22-batches');

  await page.setViewportSize({ width: 375, height: 812 });
  await running.getByRole('button', { name: 'Show results' }).click();
  t.is(await overflowsSideways(page), 0);
  await panel.screenshot('fleet-23-batches-375px');
  t.deepEqual(await unlabelledControls(page), []);
  t.deepEqual(panel.problems, []);
});

browserTest('a batch\'s progress follows its operations as they end, from the event stream', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const token = await svc.login('demo');
  const made = await svc.http.post('batches', { headers: { 'x-session-token': token }, json: { processors: ['sample_pip', 'sample_oneshot'], action: 'upgrade-all' }, responseType: 'json' });
  const batch = made.body as any;
  const panel = await openPanel(t, browser);
  const { page } = panel;
  await signIn(panel, svc.url, token);
  await page.locator('#conn[data-state="live"]').waitFor();
  await page.goto(`${svc.url}/ui/#/fleet/batches/${batch.batchId}`);
  const item = page.locator(`.batch[data-batch-id="${batch.batchId}"]`);
  await item.locator('.batch-results').waitFor();
  t.is(await item.locator('.batch-counts').textContent(), '2 queued');
  // One of its operations cancelled on its own (as the processor page does): the batch shows it within the poll's
  // safety interval only if the event arrived, so the wait is shorter than that interval.
  const one = batch.results.find((r: any) => r.processor === 'sample_oneshot').operationId;
  t.is((await svc.http.post(`operations/${one}/cancel`, { headers: { 'x-session-token': token } })).statusCode, 200);
  await item.locator('.batch-counts', { hasText: '1 queued · 1 stopped' }).waitFor({ timeout: 5_000 });
  t.is(await item.locator(`.batch-op[data-operation-id="${one}"]`).getAttribute('data-status'), 'STOPPED');
  t.is(await item.locator('progress').getAttribute('value'), '1');
  t.deepEqual(panel.problems, []);
});

browserTest('the Batches list shows 20 at a time, and a link to an older batch shows it with its results open', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const token = await svc.login('demo');
  const ids: string[] = [];
  for (let i = 0; i < 22; i++) {
    const res = await svc.http.post('batches', { headers: { 'x-session-token': token }, json: { processors: ['sample_conda'], action: 'upgrade-all' }, responseType: 'json' });
    ids.push((res.body as { batchId: string }).batchId);
  }
  const panel = await openPanel(t, browser);
  const { page } = panel;
  await signIn(panel, svc.url, token);
  await page.goto(`${svc.url}/ui/#/fleet/batches/${ids[0]}`);
  const oldest = page.locator(`.batch[data-batch-id="${ids[0]}"]`);
  await oldest.locator('.batch-results tr[data-processor="sample_conda"]').waitFor();
  t.is(await page.locator('.batch').count(), 21, 'the newest 20 and the one asked for');
  t.is(await page.evaluate(() => document.activeElement?.closest('.batch')?.getAttribute('data-batch-id')), ids[0]);
  await page.getByRole('button', { name: 'Show older batches' }).click();
  await page.getByText('22 batches, newest first.').waitFor();
  const shown = await page.locator('.batch').evaluateAll((els) => els.map((el) => (el as HTMLElement).dataset.batchId));
  t.deepEqual(shown, (await api(svc, token, '/batches?limit=50')).map((b: { batchId: string }) => b.batchId), 'each once, in procenv\'s order');
  t.is(new Set(shown).size, 22);
  t.deepEqual(panel.problems, []);
});

browserTest('a plain user sees the fleet of what they can read, but no hold, check or batch button for processors they cannot change, and it fits 375 px', async (t) => {
  const svc = await startTestService({}, { worker: false });
  t.teardown(() => svc.close());
  const token = await svc.login('stranger');
  const panel = await openPanel(t, browser, { width: 375, height: 812 });
  const { page } = panel;
  await signIn(panel, svc.url, token);
  await page.getByRole('link', { name: 'Fleet', exact: true }).click();

  // The public samples only: sample_oneshot is private.
  await page.locator('.fleet-summary tr[data-type="python_pip_2"]').waitFor();
  t.deepEqual(await page.locator('.fleet-summary tbody tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.type)), ['conda', 'python_pip_2']);
  await page.getByLabel('Package name').fill('numpy');
  await page.getByText('2 packages match “numpy”; 1–2 shown.').waitFor();
  t.deepEqual(await whereInstalled(page, 'numpy', 'pip'), ['sample_pip 1.24.4 → 2.0.2']);
  t.is(await page.locator('.fleet-search').getByRole('button').count(), 0);
  t.deepEqual(await page.locator('.fleet-search [data-label="Change"]').allTextContents(), ['read-only for you', 'read-only for you']);
  t.is(await overflowsSideways(page), 0);
  t.deepEqual(await unlabelledControls(page), []);
  await panel.screenshot('fleet-30-stranger-packages-375px');

  await page.getByRole('link', { name: 'Updates', exact: true }).click();
  await page.locator('.update-card[data-processor="sample_pip"] tbody tr').first().waitFor();
  t.is(await page.locator('.fleet-updates-tab').getByRole('button').count(), 0);
  t.is(await page.locator('.fleet-updates-tab').getByRole('checkbox', { name: /^Select/ }).count(), 0);
  t.is(await overflowsSideways(page), 0);
  await panel.screenshot('fleet-31-stranger-updates-375px');

  await page.getByRole('link', { name: 'Batches', exact: true }).click();
  await page.getByText('No batch yet. Start one from Packages or Updates.').waitFor();
  t.is(await overflowsSideways(page), 0);

  // A processor they can read: no Hold… either.
  await page.goto(`${svc.url}/ui/#/p/sample_pip`);
  await page.locator('.packages tr[data-package="numpy"]').waitFor();
  t.is(await page.getByRole('button', { name: /^(Hold|Release)/ }).count(), 0);
  t.deepEqual(panel.problems, []);
});

browserTest('on a compute node the owner sees the fleet and the holds but is offered no hold, check or batch: those are made on the main node', async (t) => {
  const svc = await startTestService({ nodeCode: 'node-a' }, { worker: false });
  t.teardown(() => svc.close());
  const token = await svc.login('demo');
  // As a compute node stores the main node's holds when it syncs.
  await svc.store.saveHold({ processorName: 'sample_pip', package: 'numpy', key: 'numpy', reason: 'placed on the main node', userId: 'demo', createdAt: Date.now(), version: '1.24.4' });
  const panel = await openPanel(t, browser);
  const { page } = panel;
  await signIn(panel, svc.url, token);
  await page.locator('.node-code', { hasText: 'node node-a' }).waitFor();
  await page.goto(`${svc.url}/ui/#/fleet`);
  await page.getByLabel('Package name').fill('numpy');
  await page.getByText('2 packages match “numpy”; 1–2 shown.').waitFor();
  t.deepEqual(await whereInstalled(page, 'numpy', 'pip'), ['sample_oneshot 1.26.4 → 2.1.0', 'sample_pip 1.24.4 → 2.0.2 held']);
  t.is(await page.locator('.fleet-search li[data-processor="sample_pip"] .hold-words').textContent(), 'held by demo: placed on the main node');
  t.is(await page.locator('.fleet-search').getByRole('button').count(), 0);
  t.deepEqual(await page.locator('.fleet-search [data-label="Change"]').allTextContents(), ['batches are made on the main node', 'batches are made on the main node']);
  await page.getByRole('link', { name: 'Updates', exact: true }).click();
  await page.locator('.update-card[data-processor="sample_pip"] tbody tr').first().waitFor();
  t.is(await page.locator('.fleet-updates-tab').getByRole('button').count(), 0);
  await page.getByText('Checks and upgrades are started on the main node', { exact: false }).waitFor();
  await page.goto(`${svc.url}/ui/#/p/sample_pip`);
  await page.locator('.packages tr[data-package="numpy"]').waitFor();
  t.is(await page.locator('.packages tr[data-package="numpy"] .hold-words').textContent(), 'held by demo: placed on the main node');
  t.is(await page.getByRole('button', { name: 'Upgrade requests to 2.32.3' }).count(), 1, 'changes are still offered on a compute node');
  t.is(await page.getByRole('button', { name: /^(Hold|Release)/ }).count(), 0);
  t.deepEqual(panel.problems, []);
});
