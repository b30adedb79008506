#!/bin/sh
":" //; exec node --max-semi-space-size=8 "$0" "$@"
// The installed `procenv` command: runs the compiled JavaScript in dist/ (built by `npm install` through the
// `prepare` script, and by `npm start`). A checkout that was never built falls back to the TypeScript sources
// through tsx, which compiles them at every start.
// Run as a command, the two lines above are a shell script that starts node on this file with the service's node
// flags (a #! line takes one argument on Linux, and `env -S` is missing from BusyBox, as on Alpine); to node the
// second line is a string and a comment. The flag caps V8's young generation at 8 MB a semi-space (Node 20 lets it
// grow to 16, Node 24 to 32 and more): the service keeps its data in the old generation, and a larger young one
// only adds to its RSS (bench/scale). `node --max-semi-space-size=N bin/procenv.js` sets another size.
process.env.PROCENV_CLI_ENTRY = '1';
try {
  await import('../dist/cli.js');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist/cli.js')) throw err;
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}
