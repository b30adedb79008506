import { InvalidInputError } from './errors.ts';
import type { Generation, GenerationPackage } from './generations.ts';
import type { ManagerKind } from './processor.ts';
import { isValidPackageName, isValidVersion } from './update-command.ts';

/**
 * A generation written as a file another tool builds an environment from: pip's `requirements.txt`, conda's
 * `environment.yml`, or the manifest itself. Every package is pinned exactly, so that an environment installed from
 * the file has the generation's hash. Names and versions come from a manager's report or from a packagesInfo.json
 * another hand wrote: one that could read as an option, a URL or a second line is left out, with a comment saying so.
 */
export const EXPORT_FORMATS = ['requirements', 'environment', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportedFile {
  contentType: string;
  filename: string;
  body: string;
}

/** Which manager each text format is for (json is for all). */
const FORMAT_MANAGER: Record<Exclude<ExportFormat, 'json'>, ManagerKind> = { requirements: 'pip', environment: 'conda' };

/** pip's `===` (arbitrary equality) pins a version PEP 440 cannot read, as long as it holds no character pip would split at. */
const LEGACY_VERSION = /^[A-Za-z0-9][A-Za-z0-9._+!-]{0,99}$/;
const CONDA_BUILD = /^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,199}$/;
const CONDA_CHANNEL = /^[A-Za-z0-9_][A-Za-z0-9_./:@+-]{0,299}$/;

/** Text shown in a comment: one line, no control characters, short. */
function shown(text: string): string {
  return JSON.stringify(text.slice(0, 120)).replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, '?');
}

function header(processor: string, kind: ManagerKind, g: Generation): string[] {
  const by = g.cause === 'operation' ? `operation ${g.operationId ?? '?'} by ${g.userId ?? '?'}` : g.cause === 'disk' ? 'seen on disk' : 'first seen by procenv';
  return [
    `# ${processor}: generation ${g.number} (${kind}${g.manager.version ? ` ${g.manager.version}` : ''}), sha256 ${g.hash}`,
    `# recorded ${new Date(g.at).toISOString()}, ${shown(by).slice(1, -1)}`,
  ];
}

function pipRequirement(p: GenerationPackage): string | undefined {
  if (!isValidPackageName(p.name, 'pip') || p.name.includes('[')) return undefined;
  if (isValidVersion(p.version, 'pip')) return `${p.name}==${p.version}`;
  return LEGACY_VERSION.test(p.version) ? `${p.name}===${p.version}` : undefined;
}

function requirementsTxt(processor: string, g: Generation): string {
  const lines = [
    ...header(processor, 'pip', g),
    '# every package pinned; "# dependency" marks those that came in as a dependency rather than asked for',
  ];
  for (const p of g.packages) {
    const requirement = pipRequirement(p);
    if (requirement === undefined) lines.push(`# left out, not a pip requirement: ${shown(p.name)} ${shown(p.version)}`);
    else lines.push(p.requested === false ? `${requirement}  # dependency` : requirement);
  }
  return `${lines.join('\n')}\n`;
}

/** conda's match spec for an exact package: `channel::name=version=build`. */
function condaSpec(p: GenerationPackage): string | undefined {
  if (!isValidPackageName(p.name, 'conda') || !isValidVersion(p.version, 'conda')) return undefined;
  if (p.build !== undefined && !CONDA_BUILD.test(p.build)) return undefined;
  if (p.channel !== undefined && !CONDA_CHANNEL.test(p.channel)) return undefined;
  return `${p.channel ? `${p.channel}::` : ''}${p.name}=${p.version}${p.build ? `=${p.build}` : ''}`;
}

function environmentYml(processor: string, g: Generation): string {
  const lines = [...header(processor, 'conda', g), `name: ${processor}`];
  const conda: string[] = [];
  const pip: string[] = [];
  const channels: string[] = [];
  for (const p of g.packages) {
    // conda lists what pip installed into the environment under the channel "pypi": it goes in the pip section.
    const spec = p.channel === 'pypi' ? pipRequirement(p) : condaSpec(p);
    if (spec === undefined) {
      lines.push(`# left out, not an exact package: ${shown(p.name)} ${shown(p.version)}`);
      continue;
    }
    if (p.channel === 'pypi') pip.push(spec);
    else {
      conda.push(spec);
      if (p.channel && !channels.includes(p.channel)) channels.push(p.channel);
    }
  }
  if (channels.length) lines.push('channels:', ...channels.map((c) => `  - ${c}`));
  lines.push('dependencies:', ...conda.map((s) => `  - ${s}`));
  if (pip.length) lines.push('  - pip:', ...pip.map((s) => `    - ${s}`));
  return `${lines.join('\n')}\n`;
}

/** The generation as a file; a format meant for the other manager is a 400. */
export function exportGeneration(processor: string, kind: ManagerKind, g: Generation, format: ExportFormat): ExportedFile {
  const base = `${processor}-generation-${g.number}`;
  if (format === 'json') return { contentType: 'application/json; charset=utf-8', filename: `${base}.json`, body: JSON.stringify(g) };
  if (FORMAT_MANAGER[format] !== kind) {
    throw new InvalidInputError('EXPORT_FORMAT_UNSUPPORTED', `format "${format}" is for ${FORMAT_MANAGER[format]} environments; this processor's manager is ${kind} (use ${kind === 'pip' ? 'requirements' : 'environment'} or json)`);
  }
  return format === 'requirements'
    ? { contentType: 'text/plain; charset=utf-8', filename: `${base}-requirements.txt`, body: requirementsTxt(processor, g) }
    : { contentType: 'application/x-yaml; charset=utf-8', filename: `${base}-environment.yml`, body: environmentYml(processor, g) };
}
