import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { ConfigError, DEFAULT_CONFIG_FILE, isMainNode, loadConfig, unknownEnvironmentVariables } from '../../src/config/load.ts';
import { schema, type ConfigKey, type KeySpec } from '../../src/config/schema.ts';
import { ensureCompiled, PROCENV_BIN } from '../helpers/compiled.ts';

// The command line runs compiled, as users run it: dist/ is rebuilt first when a source is newer.
test.before(ensureCompiled);

// The configuration (house style "Config"): schema defaults, config/default.json, the PROCENV_CONFIG file,
// PROCENV_* variables, overrides; validated at start with every bad key named; frozen.

const REPO = new URL('../../', import.meta.url).pathname;
const SPECS = Object.entries(schema) as [ConfigKey, KeySpec][];

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'procenv-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function jsonFile(dir: string, name: string, content: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** The problems of a configuration that must be refused. */
function problemsOf(t: ExecutionContext, load: () => unknown): string[] {
  const err = t.throws(load, { instanceOf: ConfigError });
  return err?.problems ?? [];
}

const names = (problems: string[], key: string) => problems.filter((p) => p.startsWith(`${key}:`));

test('with an empty defaults file and no environment, every key has its schema default', (t) => {
  const dir = tempDir(t);
  const config = loadConfig({ env: {}, defaultFile: jsonFile(dir, 'empty.json', {}) });
  for (const [key, spec] of SPECS) t.deepEqual(config[key], spec.default, key);
  t.deepEqual(Object.keys(config).sort(), SPECS.map(([k]) => k).sort());
});

test('the shipped config/default.json loads cleanly and the result is frozen', (t) => {
  const config = loadConfig({ env: {} });
  t.is(DEFAULT_CONFIG_FILE, join(REPO, 'config', 'default.json'));
  t.true(Object.isFrozen(config));
  t.throws(() => {
    (config as { port: number }).port = 1;
  }, { instanceOf: TypeError });
  t.is(config.nodeCode, 'wasdi');
  t.true(isMainNode(config));
});

test('precedence: defaults file, then the PROCENV_CONFIG file, then PROCENV_* variables, then overrides', (t) => {
  const dir = tempDir(t);
  const defaultFile = jsonFile(dir, 'default.json', { port: 1001, host: '0.0.0.0', logLevel: 'warn', nodeCode: 'from-default', sessionIdleMinutes: 5 });
  const fileConfig = jsonFile(dir, 'site.json', { port: 1002, nodeCode: 'from-file', sessionIdleMinutes: 6 });
  const env = { PROCENV_CONFIG: fileConfig, PROCENV_PORT: '1003', PROCENV_NODE_CODE: 'from-env' };
  const config = loadConfig({ env, defaultFile, overrides: { nodeCode: 'from-override' } });
  t.is(config.host, '0.0.0.0', 'only the defaults file sets host');
  t.is(config.logLevel, 'warn');
  t.is(config.sessionIdleMinutes, 6, 'the PROCENV_CONFIG file wins over the defaults file');
  t.is(config.port, 1003, 'a variable wins over both files');
  t.is(config.nodeCode, 'from-override', 'overrides win over everything');
  t.is(loadConfig({ env, defaultFile }).nodeCode, 'from-env');
  t.is(loadConfig({ env: { PROCENV_CONFIG: fileConfig }, defaultFile }).port, 1002);
  t.is(loadConfig({ env: { PROCENV_PORT: '' }, defaultFile }).port, 1001, 'an empty variable counts as unset');
});

test('variables are converted from text: integers with spaces, booleans, comma lists', (t) => {
  const dir = tempDir(t);
  const defaultFile = jsonFile(dir, 'empty.json', {});
  t.is(loadConfig({ env: { PROCENV_PORT: ' 8081 ' }, defaultFile }).port, 8081);
  const boolean = SPECS.find(([, s]) => s.type === 'boolean');
  if (boolean) {
    const [key, spec] = boolean;
    for (const [text, value] of [['true', true], ['FALSE', false], ['1', true], ['0', false]] as const) {
      t.is(loadConfig({ env: { [spec.env]: text }, defaultFile })[key], value, `${spec.env}=${text}`);
    }
    t.deepEqual(names(problemsOf(t, () => loadConfig({ env: { [spec.env]: 'yes' }, defaultFile })), key).length, 1);
  } else {
    t.log('no boolean key in the schema: boolean conversion not checked');
  }
  const list = SPECS.find(([, s]) => s.type === 'string[]');
  if (list) {
    const [key, spec] = list;
    t.deepEqual(loadConfig({ env: { [spec.env]: ' a, b ,,c ' }, defaultFile })[key], ['a', 'b', 'c']);
  } else {
    t.log('no list key in the schema: list conversion not checked');
  }
});

test('files may nest dotted keys in sections', (t) => {
  const dotted = SPECS.find(([k, s]) => k.includes('.') && s.type === 'integer');
  if (!dotted) {
    t.log('no dotted integer key in the schema');
    t.pass();
    return;
  }
  const [key, spec] = dotted;
  const [section, name] = key.split('.') as [string, string];
  const value = Math.max(spec.min ?? 1, Math.min(spec.max ?? 1_000_000, 7));
  const dir = tempDir(t);
  const config = loadConfig({ env: {}, defaultFile: jsonFile(dir, 'nested.json', { [section]: { [name]: value } }) });
  t.is(config[key], value);
  const problems = problemsOf(t, () => loadConfig({ env: {}, defaultFile: jsonFile(dir, 'bad.json', { [section]: { colour: 'blue' } }) }));
  t.is(names(problems, `${section}.colour`).length, 1, problems.join('\n'));
});

test('several bad keys at once are all named in ConfigError.problems', (t) => {
  const dir = tempDir(t);
  const defaultFile = jsonFile(dir, 'default.json', {
    colour: 'blue', // unknown key
    sessionIdleMinutes: 'ten', // wrong type
    port: 70_000, // out of range
    store: 'postgres', // not one of embedded, mongodb
    logLevel: 'loud', // not a pino level
    host: 8080, // wrong type
  });
  const problems = problemsOf(t, () => loadConfig({ env: { PROCENV_MAIN_NODE_CODE: 'main', PROCENV_SESSION_IDLE_MINUTES: '0' }, defaultFile }));
  for (const key of ['colour', 'port', 'store', 'logLevel', 'host']) t.is(names(problems, key).length, 1, `${key} in ${problems.join(' | ')}`);
  // Both the file's and the variable's bad sessionIdleMinutes are reported, the variable's with its name.
  t.is(names(problems, 'sessionIdleMinutes').length, 2);
  t.true(problems.some((p) => p.startsWith('sessionIdleMinutes:') && p.includes('PROCENV_SESSION_IDLE_MINUTES')));
  t.is(problems.length, 7, problems.join('\n'));
  const err = t.throws(() => loadConfig({ env: {}, defaultFile }), { instanceOf: ConfigError });
  for (const problem of err!.problems) t.true(err!.message.includes(problem), 'the message lists every problem');
});

test('files and variables wrong at once: every problem is reported, none hides another', (t) => {
  const dir = tempDir(t);
  const defaultFile = jsonFile(dir, 'default.json', { colour: 'blue', sessionIdleMinutes: [], logLevel: 'loud' });
  const missing = join(dir, 'missing.json');
  const problems = problemsOf(t, () => loadConfig({ env: { PROCENV_CONFIG: missing, PROCENV_PORT: 'abc', PROCENV_STORE: 'mongodb' }, defaultFile }));
  for (const key of ['colour', 'sessionIdleMinutes', 'logLevel', 'port', 'mongodbUrl']) t.is(names(problems, key).length, 1, `${key} in ${problems.join(' | ')}`);
  t.is(problems.filter((p) => p.startsWith(missing)).length, 1);
  t.is(problems.length, 6, problems.join('\n'));
});

test('PROCENV_PORT=abc is refused with the variable named', (t) => {
  const problems = problemsOf(t, () => loadConfig({ env: { PROCENV_PORT: 'abc' } }));
  t.is(problems.length, 1);
  t.regex(problems[0]!, /^port: .*integer.*"abc".*PROCENV_PORT/);
  t.is(names(problemsOf(t, () => loadConfig({ env: { PROCENV_PORT: '-1' } })), 'port').length, 1);
  t.is(names(problemsOf(t, () => loadConfig({ env: { PROCENV_PORT: '1.5' } })), 'port').length, 1);
});

test('store=mongodb without MONGODB_URL is refused; with one it loads', (t) => {
  const problems = problemsOf(t, () => loadConfig({ env: { PROCENV_STORE: 'mongodb' } }));
  t.is(names(problems, 'mongodbUrl').length, 1, problems.join('\n'));
  const config = loadConfig({ env: { PROCENV_STORE: 'mongodb', MONGODB_URL: 'mongodb://127.0.0.1:27017' } });
  t.is(config.store, 'mongodb');
});

test('an unreadable PROCENV_CONFIG file is refused with its path named', (t) => {
  const dir = tempDir(t);
  const missing = join(dir, 'no-such-file.json');
  const problems = problemsOf(t, () => loadConfig({ env: { PROCENV_CONFIG: missing } }));
  t.is(problems.length, 1);
  t.true(problems[0]!.startsWith(missing), problems[0]);
  t.regex(problems[0]!, /ENOENT/);
  const folder = problemsOf(t, () => loadConfig({ env: { PROCENV_CONFIG: dir } }));
  t.true(folder[0]!.startsWith(dir), 'a folder instead of a file');
});

test('a PROCENV_CONFIG file that is not JSON, or not an object, is refused with its path named', (t) => {
  const dir = tempDir(t);
  for (const [name, text] of [['broken.json', '{ "port": '], ['list.json', '[1, 2]'], ['null.json', 'null']] as const) {
    const file = jsonFile(dir, name, text);
    const problems = problemsOf(t, () => loadConfig({ env: { PROCENV_CONFIG: file, PROCENV_LOG_LEVEL: 'loud' } }));
    t.true(problems.some((p) => p.startsWith(file)), `${name}: ${problems.join(' | ')}`);
    t.is(names(problems, 'logLevel').length, 1, 'the other problems are still reported');
  }
});

test('an empty nodeCode is refused; a compute node is one whose code differs from mainNodeCode', (t) => {
  const dir = tempDir(t);
  t.is(names(problemsOf(t, () => loadConfig({ env: {}, defaultFile: jsonFile(dir, 'd.json', { nodeCode: '  ' }) })), 'nodeCode').length, 1);
  const compute = loadConfig({ env: { PROCENV_NODE_CODE: 'node-eu-2' } });
  t.false(isMainNode(compute));
  t.true(isMainNode(loadConfig({ env: { PROCENV_NODE_CODE: 'main', PROCENV_MAIN_NODE_CODE: 'main' } })));
});

test('node codes that other nodes would refuse in x-procenv-via are refused at start', (t) => {
  for (const code of ['a,b', '../x', 'node a', '-rf', 'x'.repeat(65)]) {
    t.is(names(problemsOf(t, () => loadConfig({ env: { PROCENV_NODE_CODE: code } })), 'nodeCode').length, 1, code);
    t.is(names(problemsOf(t, () => loadConfig({ env: { PROCENV_MAIN_NODE_CODE: code } })), 'mainNodeCode').length, 1, code);
  }
  t.is(loadConfig({ env: { PROCENV_NODE_CODE: 'node_eu-2' } }).nodeCode, 'node_eu-2');
});

test('a bad mainUrl is named without the credentials it carries', (t) => {
  const problems = problemsOf(t, () => loadConfig({ env: { PROCENV_MAIN_URL: 'ftp://proxyuser:s3cret-pass@main.example/' } }));
  t.is(names(problems, 'mainUrl').length, 1);
  t.false(problems.join('\n').includes('s3cret-pass'));
  t.false(problems.join('\n').includes('proxyuser'));
});

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PROCENV_BIN, ...args], { cwd: REPO, env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

test('procenv serve with a bad environment exits non-zero and names every bad key on stderr', async (t) => {
  const dir = tempDir(t);
  const site = jsonFile(dir, 'site.json', { colour: 'blue', sessionIdleMinutes: 0 });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH, HOME: process.env.HOME,
    PROCENV_CONFIG: site, PROCENV_PORT: 'abc', PROCENV_STORE: 'mongodb', PROCENV_LOG_LEVEL: 'loud',
    PROCENV_DATA_DIR: join(dir, 'data'), PROCENV_PROCESSORS_DIR: join(dir, 'processors'),
  };
  const { code, stdout, stderr } = await runCli(['serve'], env);
  t.not(code, 0);
  t.not(code, null, 'it exits by itself, it is not killed');
  for (const key of ['colour', 'sessionIdleMinutes', 'port', 'logLevel', 'mongodbUrl']) {
    t.regex(stderr, new RegExp(`^\\s*- ${key.replace('.', '\\.')}:`, 'm'), `${key} on stderr`);
  }
  t.regex(stderr, /PROCENV_PORT/);
  t.false(/listening/.test(stdout), 'the service never started');
});

test('unknownEnvironmentVariables names PROCENV_ variables that are no setting, with the nearest one when it is close', (t) => {
  t.deepEqual(unknownEnvironmentVariables({
    PROCENV_PORT: '1', PROCENV_CONFIG: 'x.json', PROCENV_CLI_ENTRY: '1', PROCENV_TEST_CONDA: 'micromamba', HOME: '/root',
    PROCENV_QUEUE_CONCURENCY: '4', PROCENV_COLOUR: 'blue', MONGODB_URL: 'mongodb://x',
  }), [
    { variable: 'PROCENV_COLOUR' },
    { variable: 'PROCENV_QUEUE_CONCURENCY', didYouMean: 'PROCENV_QUEUE_CONCURRENCY' },
  ]);
  t.deepEqual(unknownEnvironmentVariables({}), []);
});
