/**
 * procenv as a benchmark target, in its own process so that the load generator does not share its event loop.
 * Usage: node --import tsx bench/servers/procenv-server.ts <dataDir> <processorsDir>
 * Prints one JSON line `{ "url": … }` on stdout once it listens; SIGTERM stops it cleanly (so that a
 * `--cpu-prof` profile is written on exit).
 */
import { loadConfig } from '../../src/config/load.ts';
import { startService } from '../../src/main.ts';

const [dataDir, processorsDir] = process.argv.slice(2);
if (!dataDir || !processorsDir) {
  process.stderr.write('usage: procenv-server.ts <dataDir> <processorsDir>\n');
  process.exit(2);
}

// env: {} so that PROCENV_* variables of the shell cannot change what is measured.
const config = loadConfig({
  env: {},
  overrides: { host: '127.0.0.1', port: 0, dataDir, processorsDir, logLevel: 'warn' },
});
const service = await startService(config);
process.stdout.write(`${JSON.stringify({ url: service.url })}\n`);

process.once('SIGTERM', () => {
  service.stop().then(() => process.exit(0), (err) => {
    process.stderr.write(`stop failed: ${String(err)}\n`);
    process.exit(1);
  });
});
