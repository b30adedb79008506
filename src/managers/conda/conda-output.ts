import { managerVersionFrom, type ManagerVersion, type PackageInfo } from '../../domain/packages.ts';
import { ManagerError, messageWithOutput, redactUrls } from '../errors.ts';
import type { CommandResult } from '../run-command.ts';
import type { CondaFlavour } from './conda-cli.ts';

/**
 * Reading what conda, mamba and micromamba print with `--json`. Pure functions over text, tested on recorded
 * outputs (test/fixtures/conda/SOURCES.md). What the tools really print, and what this handles:
 * - conda ≥ 22.11 writes progress records `{"fetch":…,"finished":…}\n\0` before the result document (its JSON
 *   reporter backend), older conda wrote them newline-separated;
 * - conda 4.x and 23.7 may print a plain-text line (`Remove all packages in environment …`) before the document;
 * - on failure conda prints an object with `exception_name`, `error` and `message` (on stdout when the exit status
 *   is non-zero), micromamba `{"solver_problems": […], "success": false}`, and mamba 1.x or micromamba often no
 *   JSON at all, only text (`Encountered problems while solving`, `critical libmamba …`).
 */

const MAX_MESSAGE_CHARS = 2000;
const MAX_MESSAGE_LINES = 24;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A progress record of conda's JSON reporter (`{"fetch":"numpy-1.26 | 6 MB | ","finished":false,"maxval":1,"progress":0.2}`). */
function isProgressRecord(value: unknown): boolean {
  return isObject(value) && 'maxval' in value && 'progress' in value && !('success' in value);
}

function tryParse(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

/** Conda 4.1–4.2 wrote its progress records one per line before the document (conda/conda#3026): drop them. */
function withoutProgressLines(segment: string): string {
  if (!segment.includes('"maxval"')) return segment;
  return segment.split('\n').filter((line) => {
    const l = line.trim();
    if (!l.startsWith('{') || !l.endsWith('}')) return true;
    const parsed = tryParse(l);
    return !(parsed && isProgressRecord(parsed.value));
  }).join('\n');
}

/** How many line starts are tried as the start of a document: bounds the work on a large, odd output. */
const MAX_CANDIDATES = 20;

/** A JSON document inside `segment`: the whole text, or from a line starting with `{`/`[` to the end (text before it dropped). */
function documentIn(raw: string): { value: unknown } | undefined {
  const whole = tryParse(raw);
  if (whole) return whole;
  const segment = withoutProgressLines(raw);
  // Candidates are line starts only: pretty-printed documents open at column 0, their nested values are indented.
  let tried = 0;
  for (const m of segment.matchAll(/(^|\n)[{[]/g)) {
    if (++tried > MAX_CANDIDATES) break;
    const rest = segment.slice(m.index + m[1]!.length);
    const parsed = tryParse(rest) ?? tryParse(rest.slice(0, Math.max(rest.lastIndexOf('}'), rest.lastIndexOf(']')) + 1));
    if (parsed && !isProgressRecord(parsed.value)) return parsed;
  }
  return undefined;
}

/**
 * The result document of a `--json` run: the last JSON value in the output that is not a progress record.
 * Undefined when the output holds none (mamba 1.x and micromamba print plain text on some failures).
 */
export function lastJsonDocument(output: string): unknown {
  const segments = output.split('\0');
  for (let i = segments.length - 1; i >= 0; i--) {
    const segment = segments[i]!.trim();
    if (segment === '') continue;
    const found = documentIn(segment);
    if (found && !isProgressRecord(found.value)) return found.value;
  }
  return undefined;
}

/** Conda's anonymous-token channel form `…/t/<token>/…` loses the token, as `user:pass@` does in redactUrls. */
export function redactCondaText(text: string): string {
  return redactUrls(text).replace(/\/t\/[^/\s"']+/g, '/t/***');
}

function tidy(text: string): string {
  const lines = text.replace(/\r\n?/g, '\n').split('\n').map((l) => l.trimEnd());
  const kept: string[] = [];
  for (const line of lines) {
    if (line === '' && (kept.length === 0 || kept[kept.length - 1] === '')) continue;
    kept.push(line);
  }
  while (kept.length > 0 && kept[kept.length - 1] === '') kept.pop();
  let out = kept.slice(0, MAX_MESSAGE_LINES).join('\n');
  if (kept.length > MAX_MESSAGE_LINES) out += '\n…';
  if (out.length > MAX_MESSAGE_CHARS) out = `${out.slice(0, MAX_MESSAGE_CHARS)}…`;
  return redactCondaText(out);
}

/**
 * The failure a result document reports, if any: conda's exception object (`PackagesNotFoundError: The following
 * packages are not available…`), micromamba's solver problems, or a bare `"success": false`.
 */
export function condaErrorOf(doc: unknown): { message: string; exceptionName?: string } | undefined {
  if (!isObject(doc) || doc.success === true) return undefined;
  const name = typeof doc.exception_name === 'string' ? doc.exception_name : undefined;
  const text = typeof doc.message === 'string' && doc.message.trim() !== '' ? doc.message
    : typeof doc.error === 'string' && doc.error.trim() !== '' ? doc.error : undefined;
  if (text !== undefined) {
    const message = name === undefined || text.startsWith(name) ? text : `${name}: ${text}`;
    return { message: tidy(message), ...(name === undefined ? {} : { exceptionName: name }) };
  }
  if (name !== undefined) return { message: name, exceptionName: name };
  if (Array.isArray(doc.solver_problems) && doc.solver_problems.length > 0) {
    return { message: tidy(`could not solve the environment:\n${doc.solver_problems.map((p) => `  - ${String(p)}`).join('\n')}`) };
  }
  if (doc.success === false) return { message: 'the tool reported "success": false' };
  return undefined;
}

/** libmamba's own error lines (`critical libmamba …`, `error    libmamba …`) with their indented continuation. */
function libmambaErrorText(text: string): string | undefined {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const out: string[] = [];
  let inside = false;
  for (const line of lines) {
    if (/^(critical|error)\s+libmamba\b/.test(line)) {
      out.push(line.trim());
      inside = true;
    } else if (inside && /^\s+\S/.test(line)) {
      out.push(line.trimEnd());
    } else {
      inside = false;
    }
  }
  return out.length > 0 ? out.join('\n') : undefined;
}

/** Text output with the JSON records removed: what is left to explain a failure that came without a document. */
function plainText(output: string): string {
  return output.split('\0').filter((s) => !/^\s*[{[]/.test(s)).join('\n');
}

/**
 * Judges a finished `--json` run: the exit status and the result document together. Returns the document (or
 * undefined when a successful run printed none: micromamba and mamba 2 print nothing when there is nothing to do)
 * and throws a ManagerError otherwise:
 * - COMMAND_CANCELLED / COMMAND_TIMEOUT when the runner stopped it;
 * - COMMAND_FAILED when the status is non-zero, or zero with a document that reports a failure
 *   (the message is the tool's: conda's `message`, micromamba's solver problems, libmamba's error lines).
 * `what` names the command for the message (`conda install numpy=1.26`), never the environment.
 */
export function checkCondaResult(result: CommandResult, what: string): unknown {
  const details = { exitCode: result.exitCode, signal: result.signal, durationMs: result.durationMs };
  if (result.aborted) throw new ManagerError('COMMAND_CANCELLED', `${what} was cancelled`, { details });
  if (result.timedOut) throw new ManagerError('COMMAND_TIMEOUT', `${what} was stopped: it ran past its time limit`, { details });
  const doc = lastJsonDocument(result.stdout) ?? lastJsonDocument(result.stderr);
  const reported = condaErrorOf(doc);
  if (result.exitCode === 0 && reported === undefined) return doc;
  const exceptionName = reported?.exceptionName;
  const errorDetails = { ...details, ...(exceptionName === undefined ? {} : { exceptionName }) };
  if (reported !== undefined) {
    throw new ManagerError('COMMAND_FAILED', `${what} failed: ${reported.message}`, { details: errorDetails });
  }
  const status = result.exitCode === null ? `was ended by ${result.signal ?? 'a signal'}` : `exited with status ${result.exitCode}`;
  const text = plainText(`${result.stderr}\n${result.stdout}`);
  const libmamba = libmambaErrorText(text);
  const message = libmamba !== undefined ? `${what} ${status}:\n${tidy(libmamba)}` : redactCondaText(messageWithOutput(`${what} ${status}`, text));
  throw new ManagerError('COMMAND_FAILED', message, { details: errorDetails });
}

/**
 * micromamba 2.0.0 printed `channel` as `conda-forge/linux-64/zstd-1.5.6-ha6fb4c9_0.conda` (mamba-org/mamba#3480);
 * the channel is the part before `/<platform>/<file>`.
 */
function channelOf(entry: Record<string, unknown>): string | undefined {
  const channel = typeof entry.channel === 'string' && entry.channel !== '' ? entry.channel : undefined;
  if (channel === undefined) return undefined;
  const platform = typeof entry.platform === 'string' ? entry.platform : undefined;
  const dist = typeof entry.dist_name === 'string' ? entry.dist_name : undefined;
  if (platform !== undefined && dist !== undefined) {
    for (const ext of ['.conda', '.tar.bz2']) {
      const tail = `/${platform}/${dist}${ext}`;
      if (channel.endsWith(tail) && channel.length > tail.length) return channel.slice(0, -tail.length);
    }
  }
  return channel;
}

function str(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/**
 * `list --json` → WASDI's conda package form (reference §2.1): managerName "conda", name, version, build, channel;
 * conda has no "latest" concept, so latestVersion and type stay absent. Throws UNEXPECTED_OUTPUT when the
 * document is not a list of packages.
 */
export function parseCondaList(doc: unknown): PackageInfo[] {
  if (!Array.isArray(doc)) {
    throw new ManagerError('UNEXPECTED_OUTPUT', 'conda list --json did not print a list of packages');
  }
  return doc.map((entry, i) => {
    if (!isObject(entry) || str(entry.name) === undefined) {
      throw new ManagerError('UNEXPECTED_OUTPUT', `conda list --json: entry ${i} has no package name`);
    }
    const pkg: PackageInfo = { managerName: 'conda', packageName: str(entry.name)! };
    const version = str(entry.version);
    if (version !== undefined) pkg.currentVersion = version;
    const build = str(entry.build_string) ?? str(entry.build);
    if (build !== undefined) pkg.currentBuild = build;
    const channel = channelOf(entry);
    if (channel !== undefined) pkg.channel = channel;
    return pkg;
  });
}

const NAMED_VERSION = /^(conda|mamba|micromamba)\s+(?:version\s+)?v?(\d+(?:\.\d+)*[0-9A-Za-z.+-]*)\s*$/i;
const BARE_VERSION = /^v?(\d+(?:\.\d+)+[0-9A-Za-z.+-]*)\s*$/;

/**
 * `--version` → ManagerVersion, named after the tool that answered: `conda 24.1.2` → conda 24.1.2;
 * mamba 1.x `mamba 1.5.8\nconda 24.3.0` → mamba 1.5.8 (its own line, not the conda it runs on); micromamba and
 * mamba 2.x print a bare `1.5.6` → named after the configured flavour. Old conda wrote the line to stderr, so the
 * caller passes both streams.
 */
export function parseCondaVersion(output: string, flavour: CondaFlavour): ManagerVersion {
  const lines = output.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  const named = lines.map((l) => NAMED_VERSION.exec(l)).filter((m): m is RegExpExecArray => m !== null);
  const own = named.find((m) => m[1]!.toLowerCase() === flavour) ?? named[0];
  if (own) return managerVersionFrom(own[1]!.toLowerCase(), own[2]!);
  const bare = lines.map((l) => BARE_VERSION.exec(l)).find((m) => m !== null);
  if (bare) return managerVersionFrom(flavour, bare[1]!);
  throw new ManagerError('UNEXPECTED_OUTPUT', `unexpected output from ${flavour} --version: ${JSON.stringify(output.slice(0, 120))}`);
}

/**
 * A dry run's document (`install|update|remove --dry-run --json`): the packages it would link and unlink, each with
 * its version, build and channel. conda names both sides, so nothing else is needed to tell an upgrade from an
 * install. A document without `actions` means nothing to do ("All requested packages already installed").
 */
export function parseCondaActions(doc: unknown): { link: PackageInfo[]; unlink: PackageInfo[] } {
  if (!isObject(doc)) throw new ManagerError('UNEXPECTED_OUTPUT', 'the conda dry run did not print a JSON document');
  const actions = doc.actions;
  if (actions === undefined) return { link: [], unlink: [] };
  if (!isObject(actions)) throw new ManagerError('UNEXPECTED_OUTPUT', 'the conda dry run\'s "actions" is not an object');
  const list = (key: string): PackageInfo[] => {
    const entries = actions[key] ?? [];
    if (!Array.isArray(entries)) throw new ManagerError('UNEXPECTED_OUTPUT', `the conda dry run's "${key}" is not a list`);
    return parseCondaList(entries);
  };
  return { link: list('LINK'), unlink: list('UNLINK') };
}
