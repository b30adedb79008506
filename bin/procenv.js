#!/usr/bin/env node
// The installed `procenv` command: loads the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';
register();
process.env.PROCENV_CLI_ENTRY = '1';
await import('../src/cli.ts');
