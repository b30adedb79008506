import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { ProcessorCatalog } from './catalog/catalog.ts';
import { ConfigError, loadConfig, unknownEnvironmentVariables } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { isValidNodeCode, withoutCredentials } from './domain/cluster.ts';
import { createLogger } from './logger.ts';
import { startService } from './main.ts';
import { openStore } from './store/open.ts';
import type { Store } from './store/types.ts';
import { settleHeap } from './util/settle-heap.ts';

const USAGE = `usage: procenv <command>
  serve [--demo]                                      run the service (--demo: the sample processors copied into an
                                                      empty processors folder, a demo user, session and a curl line)
  user add <userId> [--admin]                         add or update a user
  session create <userId>                             create a session; prints only the token
  processor share <name> <userId> --permission read|write
  node add <code> <baseUrl> [--inactive]              register a compute node (main node)
  node list                                           list the compute nodes
Configuration: config/default.json, then the file named by PROCENV_CONFIG, then PROCENV_* variables.`;

class UsageError extends Error {}

export const DEMO_USER = 'demo';

/** The sample processors of this checkout. `serve --demo` serves a copy, so running the demo never changes them. */
export const SAMPLES_DIR = new URL('../processors/', import.meta.url).pathname;

/** Copies the samples into `dir` when it is missing or empty (venvs left out); answers whether it did. */
function seedSamples(dir: string): boolean {
  if (existsSync(dir) && readdirSync(dir).length > 0) return false;
  cpSync(SAMPLES_DIR, dir, { recursive: true, filter: (src) => basename(src) !== '.venv' });
  return true;
}

/** A session token: 32 random bytes, URL-safe. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export async function createSession(store: Store, userId: string): Promise<string> {
  const token = newToken();
  const now = Date.now();
  await store.saveSession({ sessionId: token, userId, loginDate: now, lastTouch: now });
  return token;
}

async function withStore<T>(config: Config, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(config);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function serve(config: Config, demo: boolean): Promise<void> {
  const seeded = demo && seedSamples(config.processorsDir);
  const service = await startService(config);
  // A last resort only: every promise procenv starts is handled where it starts. Should one slip through, the
  // service logs it and keeps serving rather than exiting with operations half-recorded.
  process.on('unhandledRejection', (reason) => service.log.error({ err: reason }, 'unhandled promise rejection; the service keeps running'));
  if (seeded) service.log.info({ from: SAMPLES_DIR, to: config.processorsDir }, 'sample processors copied');
  // Once start-up's burst is over (every snapshot read ahead, the watcher ready), the heap it grew is given back.
  // Here and not in startService: the process is procenv's own (tests run many services in one process).
  service.catalog.watched().then(() => {
    const settled = settleHeap();
    if (settled) {
      const mb = (bytes: number) => Math.round(bytes / 1048576);
      service.log.info({ ms: Math.round(settled.ms), heapMb: mb(settled.heapAfter), heapMbBefore: mb(settled.heapBefore), newSpaceMb: mb(settled.newSpaceAfter), newSpaceMbBefore: mb(settled.newSpaceBefore) }, 'heap settled after start-up');
    }
  }).catch((err) => service.log.warn({ err }, 'heap not settled after start-up'));
  for (const unknown of unknownEnvironmentVariables()) {
    service.log.warn(unknown, `${unknown.variable} is not a procenv setting and is ignored${unknown.didYouMean ? `; did you mean ${unknown.didYouMean}?` : ''}`);
  }
  if (demo) {
    await service.store.saveUser({ userId: DEMO_USER, role: 'USER' });
    const token = await createSession(service.store, DEMO_USER);
    const processors = await service.store.listProcessors();
    const sample = processors.find((p) => p.name === 'sample_pip') ?? processors[0];
    process.stderr.write(
      `\nprocenv is listening on ${service.url} (node ${config.nodeCode}, ${service.store.kind} store, ${processors.length} processors)\n` +
      `demo session token: ${token}\n` +
      `panel: ${service.url}/ui/ (sign in with the token above)\n` +
      (sample ? `try: curl -s -H 'x-session-token: ${token}' '${service.url}/packageManager/listPackages?name=${sample.name}'\n\n` : '\n'),
    );
  }
  const shutdown = (signal: string) => {
    service.log.info({ signal }, 'stopping');
    service.stop().then(() => process.exit(0), (err) => {
      service.log.error({ err }, 'stop failed');
      process.exit(1);
    });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

export async function runCli(argv: string[], out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      demo: { type: 'boolean', default: false },
      admin: { type: 'boolean', default: false },
      inactive: { type: 'boolean', default: false },
      permission: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, sub, ...args] = positionals;
  if (values.help || !command) {
    out(USAGE);
    return;
  }
  if (command === 'serve' && (sub !== undefined || args.length > 0)) throw new UsageError('serve takes no arguments');
  const config = loadConfig();
  const need = (n: number) => {
    if (args.length !== n) throw new UsageError(`"${command} ${sub}" takes ${n} argument${n === 1 ? '' : 's'}`);
  };
  switch (`${command} ${sub ?? ''}`.trim()) {
    case 'serve':
      return serve(config, values.demo);
    case 'user add':
      need(1);
      return withStore(config, async (store) => {
        await store.saveUser({ userId: args[0]!, role: values.admin ? 'ADMIN' : 'USER' });
        out(`user ${args[0]} saved${values.admin ? ' (admin)' : ''}`);
      });
    case 'session create':
      need(1);
      return withStore(config, async (store) => {
        if (!(await store.findUser(args[0]!))) throw new UsageError(`no user "${args[0]}": add it with "procenv user add ${args[0]}"`);
        out(await createSession(store, args[0]!));
      });
    case 'processor share': {
      need(2);
      const permission = values.permission;
      if (permission !== 'read' && permission !== 'write') throw new UsageError('--permission must be read or write');
      return withStore(config, async (store) => {
        const catalog = new ProcessorCatalog({ processorsDir: config.processorsDir, store, log: createLogger('silent') });
        await catalog.scan();
        const processor = await store.findProcessorByName(args[0]!);
        if (!processor) throw new UsageError(`no processor "${args[0]}"`);
        if (!(await store.findUser(args[1]!))) throw new UsageError(`no user "${args[1]}"`);
        await store.saveSharing({
          resourceType: 'processor', resourceId: processor.processorId, userId: args[1]!, ownerId: processor.userId,
          permissions: permission, createdBy: 'procenv-cli', createdDate: Date.now(),
        });
        out(`processor ${processor.name} shared with ${args[1]} (${permission})`);
      });
    }
    case 'node add': {
      need(2);
      const code = args[0]!;
      if (!isValidNodeCode(code)) {
        throw new UsageError(`"${code.slice(0, 80)}" is not a valid node code: 1 to 64 letters, digits, "_" or "-", starting with a letter or digit`);
      }
      if (code === config.mainNodeCode) throw new UsageError(`"${code}" is the main node's own code (mainNodeCode): a compute node needs another`);
      let url: URL;
      try {
        url = new URL(args[1]!);
      } catch {
        throw new UsageError(`"${withoutCredentials(args[1]!).slice(0, 200)}" is not a URL`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('the base URL must be http or https');
      if (url.search || url.hash) throw new UsageError('the base URL takes no query or fragment');
      // Credentials in the URL are kept (a proxy in front of the node may need them) and never printed or served.
      const shown = withoutCredentials(url.toString());
      return withStore(config, async (store) => {
        await store.saveNode({ nodeCode: code, nodeBaseAddress: url.toString(), active: !values.inactive });
        out(`node ${code} saved (${shown}${url.username || url.password ? ', with credentials' : ''}${values.inactive ? ', inactive' : ''})`);
      });
    }
    case 'node list':
      need(0);
      return withStore(config, async (store) => {
        for (const node of await store.listNodes()) out(`${node.nodeCode}\t${withoutCredentials(node.nodeBaseAddress)}\t${node.active ? 'active' : 'inactive'}`);
      });
    default:
      throw new UsageError(`unknown command "${positionals.join(' ')}"`);
  }
}

const isEntry = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry || process.env.PROCENV_CLI_ENTRY === '1') {
  runCli(process.argv.slice(2)).catch((err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`procenv: ${err.message}\n`);
    else if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) process.stderr.write(`procenv: ${(err as Error).message}\n${USAGE}\n`);
    else process.stderr.write(`procenv: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(2);
  });
}
