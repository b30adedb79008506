import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, rmdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';

const REPO = new URL('../../', import.meta.url).pathname;
/** The installed command, as users run it: the compiled dist/ when it is there. */
export const PROCENV_BIN = join(REPO, 'bin', 'procenv.js');
const DIST = join(REPO, 'dist');
const LOCK = join(REPO, 'dist.building');

/** The newest modification time of the files under `dir` (0 when there is none). */
function newest(dir: string): number {
  let latest = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    latest = Math.max(latest, e.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

const stale = () => newest(join(REPO, 'src')) > newest(DIST);

function build(): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: REPO, timeout: 300_000 }, (err, stdout) => {
      if (err) reject(new Error(`npm run build failed: ${stdout}${err.message}`));
      else resolve();
    });
  });
}

/**
 * Makes sure dist/ is built from the sources as they are now, so that tests of the command line run what users run
 * (compiled JavaScript, started in a fraction of tsx's time) and never an older build. `npm install` builds it
 * (prepare); after an edit of src/, the first test file that needs it builds it again, under a lock that other test
 * processes wait on.
 */
export async function ensureCompiled(): Promise<void> {
  const deadline = Date.now() + 300_000;
  while (stale()) {
    try {
      mkdirSync(LOCK);
    } catch {
      // Another test process is building: wait for it, then look again.
      if (Date.now() > deadline) throw new Error(`${LOCK} is still there after 300 s: remove it if no build runs`);
      await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    try {
      if (stale()) {
        await build();
        // tsc leaves a file alone when its output is unchanged: the build is as new as the sources all the same.
        const now = new Date();
        if (stale()) utimesSync(join(DIST, '.tsbuildinfo'), now, now);
      }
    } finally {
      rmdirSync(LOCK);
    }
  }
}
