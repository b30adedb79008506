import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';

const run = promisify(execFile);

/** Logs one line through createLogger in a child process (pino-pretty runs in a transport thread writing to fd 1). */
async function logLine(format: string): Promise<string> {
  const script = `
    import { createLogger } from './src/logger.ts';
    const log = createLogger('info', undefined, ${JSON.stringify(format)});
    log.info({ token: 'secret-token-value', processor: 'sample_pip' }, 'operation queued');
    log.flush?.();
    setTimeout(() => {}, 300);
  `;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), timeout: 20_000 });
  return stdout;
}

test('pretty logs are readable lines, JSON logs are JSON, and both censor tokens', async (t) => {
  const pretty = await logLine('pretty');
  t.regex(pretty, /INFO.*operation queued/);
  t.throws(() => JSON.parse(pretty.trim().split('\n')[0]!));
  t.false(pretty.includes('secret-token-value'));
  t.regex(pretty, /\[redacted\]/);

  const json = JSON.parse((await logLine('json')).trim());
  t.is(json.msg, 'operation queued');
  t.is(json.token, '[redacted]');
  // auto: standard output is a pipe here, not a terminal, so JSON.
  t.is(JSON.parse((await logLine('auto')).trim()).msg, 'operation queued');
});
