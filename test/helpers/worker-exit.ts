import test, { registerCompletionHandler } from 'ava';

/**
 * Loaded into every test worker (ava's `require` option). AVA 6 and later wait for a worker to exit by itself once
 * its tests are done, and AVA's inactivity timeout does not come back once a test's own `t.timeout()` has pushed it
 * past its first firing: a handle left open (a socket, a child process, a timer) would keep the whole run waiting,
 * silently, until CI's own limit. So once AVA is done with a file, the worker gets a few seconds to exit; past them
 * it names what is still open, on standard error where the run's log shows it, and exits.
 */
const GRACE_MS = 10_000;

registerCompletionHandler(() => {
  setTimeout(() => {
    const open = process.getActiveResourcesInfo().filter((r) => r !== 'Timeout' && r !== 'TTYWrap');
    const file = test.meta.file.replace(/^file:\/\//, '');
    process.stderr.write(`test worker ${process.pid} (${file}): still running ${GRACE_MS / 1000} s after its tests ended (open: ${open.join(', ') || 'nothing visible'}); exiting\n`);
    process.exit(0);
  }, GRACE_MS).unref();
});
