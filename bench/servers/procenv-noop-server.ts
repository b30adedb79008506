/**
 * procenv with no-op package managers (`noop-manager.ts`) as a benchmark target, in its own process so that the
 * client and the compute-node fakes do not share its event loop. Everything else is the real service:
 * `startService(loadConfig(…))` with the store, catalog, worker, fan-out and HTTP of production.
 * Usage: node --import tsx bench/servers/procenv-noop-server.ts <dataDir> <processorsDir> [<config overrides as JSON>]
 * A `port` in the overrides is kept (a compute node registered on the main node before it starts); any other port is 0.
 * The cluster key, if any, comes from the variable BENCH_CLUSTER_KEY (not an argument: arguments are visible to ps).
 * Prints one JSON line `{ "url": … }` on stdout once it listens; SIGTERM stops it cleanly.
 */
import { loadConfig } from '../../src/config/load.ts';
import { startService } from '../../src/main.ts';
import { noopManagers } from './noop-manager.ts';

const [dataDir, processorsDir, overridesJson] = process.argv.slice(2);
if (!dataDir || !processorsDir) {
  process.stderr.write('usage: procenv-noop-server.ts <dataDir> <processorsDir> [<config overrides as JSON>]\n');
  process.exit(2);
}

const overrides = overridesJson ? (JSON.parse(overridesJson) as Record<string, unknown>) : {};
// env: {} so that PROCENV_* variables of the shell cannot change what is measured.
const config = loadConfig({
  env: {},
  overrides: {
    logLevel: 'warn', ...overrides, host: '127.0.0.1', port: typeof overrides.port === 'number' ? overrides.port : 0, dataDir, processorsDir,
    ...(process.env.BENCH_CLUSTER_KEY ? { clusterKey: process.env.BENCH_CLUSTER_KEY } : {}),
  },
});
const service = await startService(config, { managers: noopManagers() });
process.stdout.write(`${JSON.stringify({ url: service.url })}\n`);

process.once('SIGTERM', () => {
  service.stop().then(() => process.exit(0), (err) => {
    process.stderr.write(`stop failed: ${String(err)}\n`);
    process.exit(1);
  });
});
