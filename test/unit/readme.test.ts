import { readFileSync } from 'node:fs';
import test from 'ava';
import { schema } from '../../src/config/schema.ts';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test('the README documents every configuration key with its variable and default', (t) => {
  for (const [key, spec] of Object.entries(schema)) {
    const row = README.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
    t.truthy(row, `${key} has a row in the README's configuration table`);
    t.true(row!.includes(`\`${spec.env}\``), `${key}: the README names ${spec.env}`);
    t.true(row!.includes(`\`${JSON.stringify(spec.default)}\``), `${key}: the README gives the default ${JSON.stringify(spec.default)}`);
  }
});

test('the README\'s two commands are the package scripts it names', (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
  t.true(README.includes('npm install && npm start'));
  t.true(README.includes('npm test'));
  t.regex(pkg.scripts.start!, /serve --demo/);
  t.regex(pkg.scripts.test!, /ava/);
});
