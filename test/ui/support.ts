import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium (`apt-get install -y chromium`); playwright-core downloads no browser. */
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const HAS_CHROMIUM = existsSync(CHROMIUM);

/** Where the browser tests save their screenshots (git-ignored). */
export const OUTPUT_DIR = fileURLToPath(new URL('../../test-output/ui/', import.meta.url));

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
}

export interface PanelPage {
  page: Page;
  context: BrowserContext;
  /** Console errors and uncaught page errors (a CSP violation is one): a test ends with none. */
  problems: string[];
  /** Saves a full-page screenshot under OUTPUT_DIR and logs where. */
  screenshot(name: string): Promise<void>;
}

/**
 * A fresh browser context (its own sessionStorage) whose requests may go to 127.0.0.1 only: anything else is
 * aborted and counted as a problem.
 */
export async function openPanel(t: ExecutionContext, browser: Browser, options: { width?: number; height?: number; timezoneId?: string } = {}): Promise<PanelPage> {
  const context = await browser.newContext({ viewport: { width: options.width ?? 1280, height: options.height ?? 900 }, ...(options.timezoneId ? { timezoneId: options.timezoneId } : {}) });
  t.teardown(() => context.close());
  const problems: string[] = [];
  await context.route((url) => url.hostname !== '127.0.0.1', async (route) => {
    problems.push(`request outside 127.0.0.1: ${route.request().url()}`);
    await route.abort();
  });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on('console', (message) => {
    // A request the service refused on purpose (a 4xx in a test) is logged by the browser as a failed resource; it
    // is not a page problem. Network failures while the service restarts are expected too.
    if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  mkdirSync(OUTPUT_DIR, { recursive: true });
  return {
    page,
    context,
    problems,
    async screenshot(name) {
      const path = join(OUTPUT_DIR, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      t.log(`screenshot: ${path}`);
    },
  };
}

/** Opens the service's root (it redirects to the panel) and signs in with the token, by the form. */
export async function signIn(panel: PanelPage, baseUrl: string, token: string): Promise<void> {
  const { page } = panel;
  await page.goto(`${baseUrl}/`);
  await page.getByLabel('Session token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Processors' }).waitFor();
}

/** The ids of the operations the page shows. */
export async function shownOperations(page: Page): Promise<string[]> {
  return page.locator('section.op').evaluateAll((els) => els.map((el) => (el as HTMLElement).dataset.operationId ?? ''));
}

/** Waits for an operation the page did not show before, and answers its id. */
export async function newOperation(page: Page, before: string[]): Promise<string> {
  const handle = await page.waitForFunction((known) => {
    const ids = [...document.querySelectorAll<HTMLElement>('section.op')].map((el) => el.dataset.operationId);
    return ids.find((id) => id && !known.includes(id)) ?? null;
  }, before);
  return (await handle.jsonValue()) as string;
}

/** The page's follower of one operation. */
export function operationOnPage(page: Page, id: string) {
  return page.locator(`section.op[data-operation-id="${id}"]`);
}

/**
 * Every control a user can reach has a name a screen reader says: its label, aria-label(ledby), or its text.
 * Answers the controls without one.
 */
export async function unlabelledControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const missing: string[] = [];
    for (const el of document.querySelectorAll<HTMLElement>('button, input, select, textarea, a[href]')) {
      if (el.closest('[hidden]') || (el as HTMLInputElement).type === 'hidden') continue;
      const labelled = (el as HTMLInputElement).labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.textContent?.trim();
      if (!labelled) missing.push(el.outerHTML.slice(0, 120));
    }
    return missing;
  });
}

/** Whether the page is wider than its viewport (something forces sideways scrolling). */
export async function overflowsSideways(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}
