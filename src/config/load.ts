import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isValidNodeCode, withoutCredentials } from '../domain/cluster.ts';
import { schema, type Config, type ConfigKey, type KeySpec } from './schema.ts';

/** Raised when the configuration is invalid; `problems` names every bad key. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export const DEFAULT_CONFIG_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'config', 'default.json');

function flatten(value: unknown, prefix: string, out: Map<string, unknown>, problems: string[], source: string): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${source}: must be a JSON object`);
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    const key = prefix ? `${prefix}.${k}` : k;
    const isSection = v !== null && typeof v === 'object' && !Array.isArray(v);
    if (isSection && !Object.hasOwn(schema, key)) flatten(v, key, out, problems, source);
    else out.set(key, v);
  }
}

function readJsonFile(file: string, problems: string[], out: Map<string, unknown>): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    problems.push(`${file}: not valid JSON (${(err as Error).message})`);
    return;
  }
  flatten(json, '', out, problems, file);
}

/** Checks one value against its spec; answers the value (converted from text for environment variables) or a problem. */
function check(key: string, spec: KeySpec, value: unknown, fromEnv: boolean): { value?: unknown; problem?: string } {
  switch (spec.type) {
    case 'integer': {
      const n = fromEnv && typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;
      if (typeof n !== 'number' || !Number.isInteger(n)) return { problem: `${key}: must be an integer, got ${JSON.stringify(value)}` };
      if (spec.min !== undefined && n < spec.min) return { problem: `${key}: must be at least ${spec.min}, got ${n}` };
      if (spec.max !== undefined && n > spec.max) return { problem: `${key}: must be at most ${spec.max}, got ${n}` };
      return { value: n };
    }
    case 'boolean': {
      const b = fromEnv && typeof value === 'string' ? ({ true: true, false: false, 1: true, 0: false } as Record<string, boolean>)[value.trim().toLowerCase()] : value;
      if (typeof b !== 'boolean') return { problem: `${key}: must be true or false, got ${JSON.stringify(value)}` };
      return { value: b };
    }
    case 'string[]': {
      const list = fromEnv && typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value;
      if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) return { problem: `${key}: must be a list of strings` };
      return { value: Object.freeze([...list]) };
    }
    case 'string': {
      if (typeof value !== 'string') return { problem: `${key}: must be a string, got ${JSON.stringify(value)}` };
      if (spec.oneOf && !spec.oneOf.includes(value)) return { problem: `${key}: must be one of ${spec.oneOf.join(', ')}, got ${JSON.stringify(value)}` };
      return { value };
    }
  }
}

export interface LoadOptions {
  /** Environment to read; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Values that win over everything (tests, CLI flags). */
  overrides?: Partial<Record<ConfigKey, unknown>>;
  /** The defaults file; defaults to config/default.json of this checkout. */
  defaultFile?: string;
}

/**
 * Loads the configuration: schema defaults, then config/default.json, then the file named by PROCENV_CONFIG,
 * then PROCENV_* (and MONGODB_URL) variables, then overrides. Every bad key is collected; any problem throws
 * ConfigError listing them all. The result is frozen.
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  const layers: { values: Map<string, unknown>; fromEnv: boolean }[] = [];

  const fileValues = new Map<string, unknown>();
  readJsonFile(options.defaultFile ?? DEFAULT_CONFIG_FILE, problems, fileValues);
  if (env.PROCENV_CONFIG) readJsonFile(env.PROCENV_CONFIG, problems, fileValues);
  for (const key of fileValues.keys()) {
    if (!Object.hasOwn(schema, key)) problems.push(`${key}: unknown configuration key`);
  }
  layers.push({ values: fileValues, fromEnv: false });

  const envValues = new Map<string, unknown>();
  for (const [key, spec] of Object.entries(schema) as [ConfigKey, KeySpec][]) {
    const raw = env[spec.env];
    if (raw !== undefined && raw !== '') envValues.set(key, raw);
  }
  layers.push({ values: envValues, fromEnv: true });
  layers.push({ values: new Map(Object.entries(options.overrides ?? {})), fromEnv: false });

  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema) as [ConfigKey, KeySpec][]) {
    out[key] = spec.default;
    for (const layer of layers) {
      if (!layer.values.has(key)) continue;
      const { value, problem } = check(key, spec, layer.values.get(key), layer.fromEnv);
      if (problem) problems.push(layer.fromEnv ? `${problem} (from ${spec.env})` : problem);
      else out[key] = value;
    }
  }
  if (out.store === 'mongodb' && !out.mongodbUrl) problems.push('mongodbUrl: required when store is mongodb (set MONGODB_URL)');
  // A node's own code travels in x-procenv-via, where other nodes check it: a code they refuse would fail every call.
  for (const key of ['nodeCode', 'mainNodeCode'] as const) {
    if (typeof out[key] === 'string' && !isValidNodeCode(out[key])) {
      problems.push(`${key}: must be 1 to 64 letters, digits, "_" or "-", starting with a letter or digit, got ${JSON.stringify(out[key].slice(0, 80))}`);
    }
  }
  // The URL may carry a proxy's credentials: the message never shows them.
  if (typeof out.mainUrl === 'string' && out.mainUrl !== '' && !/^https?:\/\/[^\s/]+/.test(out.mainUrl)) problems.push(`mainUrl: must be an http(s) URL, got ${JSON.stringify(withoutCredentials(out.mainUrl).slice(0, 200))}`);
  const rabbit = out['rabbitmq.url'];
  if (typeof rabbit === 'string' && rabbit !== '' && !/^amqps?:\/\/[^\s/]+/.test(rabbit)) problems.push(`rabbitmq.url: must be an amqp:// or amqps:// URL, got ${JSON.stringify(withoutCredentials(rabbit).slice(0, 200))}`);
  if (typeof out.clusterKey === 'string' && out.clusterKey !== '' && out.clusterKey.length < 16) problems.push('clusterKey: must be at least 16 characters');
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze(out) as Config;
}

/** PROCENV_ variables that are not procenv's own (launcher and test switches). */
const OTHER_VARIABLES = new Set(['PROCENV_CONFIG', 'PROCENV_CLI_ENTRY']);

/**
 * PROCENV_* variables that name no configuration key, each with the closest key's variable when one is near (a
 * misspelt variable would otherwise be ignored without a word). Test switches (PROCENV_TEST_*) are left out.
 */
export function unknownEnvironmentVariables(env: NodeJS.ProcessEnv = process.env): { variable: string; didYouMean?: string }[] {
  const known = (Object.values(schema) as KeySpec[]).map((spec) => spec.env);
  return Object.keys(env)
    .filter((name) => name.startsWith('PROCENV_') && !name.startsWith('PROCENV_TEST_') && !OTHER_VARIABLES.has(name) && !known.includes(name))
    .sort()
    .map((variable) => {
      const [best] = known.map((k) => ({ k, d: editDistance(variable, k) })).sort((a, b) => a.d - b.d);
      return best && best.d <= 3 ? { variable, didYouMean: best.k } : { variable };
    });
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

export function isMainNode(config: Pick<Config, 'nodeCode' | 'mainNodeCode'>): boolean {
  return config.nodeCode === config.mainNodeCode;
}
