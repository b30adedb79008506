import { readFile } from 'node:fs/promises';
import anyTest, { type TestFn } from 'ava';
import type { Browser } from 'playwright-core';
import type { GenerationSummary } from '../../src/domain/generations.ts';
import { createTemplateVenv, installedPackages, type TemplateVenv } from '../helpers/pip-env.ts';
import { PIP_PROCESSOR, PIP_PROCESSOR_ID, startPipService, type PipService } from '../helpers/pip-service.ts';
import type { WheelSpec } from '../helpers/wheels.ts';
import { CHROMIUM, HAS_CHROMIUM, launchChromium, newOperation, openPanel, overflowsSideways, shownOperations, signIn, unlabelledControls } from './support.ts';

/**
 * The Generations tab in a real browser (Debian's Chromium driven by playwright-core) against a procenv the test
 * starts, with real pip in a real venv and wheels built by the test: gpanel-app pins its gpanel-dep. Serial: pip and
 * a browser at once are enough for the machine's two cores.
 */
const test = anyTest as TestFn;
const browserTest = HAS_CHROMIUM ? test.serial : test.serial.skip;
// The reason, as a test title ava lists among the skipped ones.
if (!HAS_CHROMIUM) test.skip(`the panel's browser tests need ${CHROMIUM} (apt-get install -y chromium)`, () => undefined);

const WHEELS: WheelSpec[] = [['gpanel-app', '1.0', ['gpanel-dep==1.0']], ['gpanel-app', '2.0', ['gpanel-dep==2.0']], ['gpanel-dep', '1.0'], ['gpanel-dep', '2.0']];
const BASE = `processors/${PIP_PROCESSOR}`;

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

async function done(svc: PipService, id: string): Promise<void> {
  const op = await svc.waitFor(id, 90_000);
  if (op.status !== 'DONE') throw new Error(`operation ${id} ended ${op.status}: ${JSON.stringify(op.error)}`);
}

async function generationsOf(svc: PipService): Promise<GenerationSummary[]> {
  return (await svc.get(`${BASE}/generations`)).body as GenerationSummary[];
}

browserTest('the Generations tab lists the states with their causes, compares the newest two, exports one, shows a restore\'s plan before it runs, and refuses a stale plan in words', async (t) => {
  t.timeout(240_000);
  const svc = await startPipService(template, WHEELS);
  t.teardown(() => svc.close());
  const added = await svc.update('addPackage/gpanel-app/1.0/');
  await done(svc, added);
  const upgraded = await svc.update('upgradePackage/gpanel-app/');
  await done(svc, upgraded);
  const [three, two, one] = await generationsOf(svc);
  t.like(three, { number: 3, cause: 'operation', operationId: upgraded, userId: 'demo' });
  t.like(two, { number: 2, cause: 'operation', operationId: added, userId: 'demo' });
  t.like(one, { number: 1, cause: 'first-seen' });

  const panel = await openPanel(t, browser);
  const { page } = panel;
  await signIn(panel, svc.url, svc.token);
  await page.evaluate(() => Object.assign(window, { panelMarker: 'no reload' }));
  await page.getByRole('link', { name: PIP_PROCESSOR }).click();
  await page.getByRole('link', { name: 'Generations' }).click();
  t.regex(page.url(), /#\/p\/sample_pip\/generations$/);
  await page.getByRole('heading', { level: 2, name: 'Generations' }).waitFor();

  // The rows: newest first, the cause in words (a change links to its operation in the history), a short hash.
  const rows = page.locator('.generations tbody tr');
  await rows.nth(2).waitFor();
  t.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.generation)), ['3', '2', '1']);
  t.deepEqual(await rows.locator('[data-label="Cause"]').allTextContents(), ['change by demo', 'change by demo', 'first seen']);
  t.is(await rows.nth(0).locator('[data-label="Cause"] a').getAttribute('href'), `#/p/sample_pip/history/${upgraded}`);
  t.is(await rows.nth(1).locator('[data-label="Hash"] code').getAttribute('title'), two!.hash);
  t.is(await rows.nth(1).locator('[data-label="Hash"] code').textContent(), two!.hash.slice(0, 12));
  t.is(await rows.nth(0).getByRole('button', { name: /^Restore/ }).count(), 0, 'nothing to restore to the newest');

  // The default comparison: the newest against the one before, both upgraded, the dependency marked.
  t.is(await page.getByLabel('From generation').inputValue(), '2');
  t.is(await page.getByLabel('To generation').inputValue(), '3');
  const diff = page.locator('.compare');
  await diff.getByText('From generation 2 to generation 3: 2 upgraded.').waitFor();
  t.deepEqual(await diff.locator('.change-group').evaluateAll((els) => els.map((el) => (el as HTMLElement).dataset.change)), ['upgraded']);
  t.deepEqual(await diff.locator('[data-change="upgraded"] li').allTextContents(), ['gpanel-app 1.0 → 2.0', 'gpanel-dep 1.0 → 2.0dependency']);
  t.is(await diff.locator('li[data-package="gpanel-app"] .tag').count(), 0);
  await panel.screenshot('20-generations');

  // Export: pip's requirements.txt, every package pinned, the dependency marked.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export generation 2 as requirements.txt' }).click()]);
  t.regex(download.suggestedFilename(), /requirements\.txt$/);
  const requirements = await readFile(await download.path(), 'utf8');
  t.regex(requirements, /^gpanel-app==1\.0$/m);
  t.regex(requirements, /^gpanel-dep==1\.0 {2}# dependency$/m);

  // Restore…: the plan first, in a dialog, while the venv still has 2.0.
  await rows.nth(1).getByRole('button', { name: 'Restore generation 2…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Restore generation 2 of sample_pip?' });
  await dialog.waitFor();
  t.deepEqual(await dialog.locator('[data-change="downgraded"] li').allTextContents(), ['gpanel-app 2.0 → 1.0', 'gpanel-dep 2.0 → 1.0dependency']);
  t.deepEqual(await dialog.locator('.commands li').allTextContents(), ['upgradePackage/gpanel-app/1.0/', 'upgradePackage/gpanel-dep/1.0/']);
  t.regex((await dialog.textContent()) ?? '', /goes back to exactly the packages of generation 2.*2 downgraded/);
  t.like(await installedPackages(svc.venv), { 'gpanel-app': '2.0', 'gpanel-dep': '2.0' }, 'nothing ran yet');
  t.deepEqual((await generationsOf(svc)).map((g) => g.number), [3, 2, 1]);
  await panel.screenshot('21-generations-restore-plan');
  const before = await shownOperations(page);
  await dialog.getByRole('button', { name: 'Restore generation 2' }).click();
  const restored = await newOperation(page, before);
  await page.getByText('The restore of generation 2 is queued').waitFor();
  await page.locator(`section.op[data-operation-id="${restored}"][data-status="DONE"]`).waitFor({ timeout: 60_000 });
  t.like(await installedPackages(svc.venv), { 'gpanel-app': '1.0', 'gpanel-dep': '1.0' });

  // Generation 4 appears without a reload, with generation 2's hash; generation 2 is now what the environment has.
  const four = page.locator('.generations tr[data-generation="4"]');
  await four.waitFor();
  t.is(await four.locator('[data-label="Hash"] code').getAttribute('title'), two!.hash);
  t.like((await generationsOf(svc))[0], { number: 4, hash: two!.hash, operationId: restored });
  t.is(await four.locator('[data-label="Cause"] a').getAttribute('href'), `#/p/sample_pip/history/${restored}`);
  const twoRow = page.locator('.generations tr[data-generation="2"]');
  t.is(await twoRow.locator('.tag').textContent(), 'same packages as now');
  t.is(await twoRow.getByRole('button', { name: /^Restore/ }).count(), 0);
  await diff.getByText('From generation 3 to generation 4: 2 downgraded.').waitFor();
  await panel.screenshot('22-generations-restored');
  t.deepEqual(await unlabelledControls(page), []);

  // A plan made before another change is refused when confirmed: nothing runs, and the words say why.
  await page.locator('.generations tr[data-generation="3"]').getByRole('button', { name: 'Restore generation 3…' }).click();
  const again = page.getByRole('dialog', { name: 'Restore generation 3 of sample_pip?' });
  await again.waitFor();
  t.deepEqual(await again.locator('[data-change="upgraded"] li').allTextContents(), ['gpanel-app 1.0 → 2.0', 'gpanel-dep 1.0 → 2.0dependency']);
  const removal = await svc.update('removePackage/gpanel-dep/');
  await done(svc, removal);
  await page.locator('.generations tr[data-generation="5"]').waitFor();
  await page.locator(`section.op[data-operation-id="${removal}"][data-status="DONE"]`).waitFor();
  const shown = await shownOperations(page);
  await again.getByRole('button', { name: 'Restore generation 3' }).click();
  await page.getByRole('alert').getByText('Nothing was run: the environment of sample_pip changed since the plan was made (it is generation 5 now: 1 removed). Choose Restore… again for a new plan.').waitFor();
  await panel.screenshot('23-generations-stale-plan');
  t.deepEqual(await shownOperations(page), shown);
  t.is((await generationsOf(svc))[0]!.number, 5);
  t.false('gpanel-dep' in (await installedPackages(svc.venv)));

  // At 375 px: rows as cards, nothing forces sideways scrolling.
  await page.setViewportSize({ width: 375, height: 812 });
  t.is(await overflowsSideways(page), 0);
  await panel.screenshot('24-generations-375px');
  await page.setViewportSize({ width: 1280, height: 900 });

  // A change's cause opens its operation in the history, details open and the focus on it.
  await page.locator('.generations tr[data-generation="2"] [data-label="Cause"] a').click();
  await page.locator(`.history tr.details#details-${added}`).waitFor();
  t.is(await page.evaluate(() => document.activeElement?.getAttribute('aria-controls')), `details-${added}`);
  t.is(await page.evaluate(() => (window as unknown as { panelMarker?: string }).panelMarker), 'no reload');
  t.deepEqual(panel.problems, []);

  // A reader sees the generations and may export them, but is offered no restore.
  await svc.store.saveSharing({
    resourceType: 'processor', resourceId: PIP_PROCESSOR_ID, userId: 'reader', ownerId: 'demo', permissions: 'read', createdBy: 'demo', createdDate: Date.now(),
  });
  const reader = await openPanel(t, browser);
  await signIn(reader, svc.url, await svc.login('reader'));
  await reader.page.goto(`${svc.url}/ui/#/p/sample_pip/generations`);
  await reader.page.locator('.generations tr[data-generation="1"]').waitFor();
  t.is(await reader.page.getByRole('button', { name: /^Export generation/ }).count(), 5);
  t.is(await reader.page.getByRole('button', { name: /^Restore/ }).count(), 0);
  t.deepEqual(reader.problems, []);
});
