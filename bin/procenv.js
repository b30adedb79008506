#!/usr/bin/env node
// The installed `procenv` command: runs the compiled JavaScript in dist/ (built by `npm install` through the
// `prepare` script, and by `npm start`). A checkout that was never built falls back to the TypeScript sources
// through tsx, which compiles them at every start.
process.env.PROCENV_CLI_ENTRY = '1';
try {
  await import('../dist/cli.js');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist/cli.js')) throw err;
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}
