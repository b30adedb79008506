import { rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { schema } from '../config/schema.ts';
import { InvalidInputError } from '../domain/errors.ts';
import { isValidProcessorName, parseIsPublic, type Processor } from '../domain/processor.ts';
import { readTenantFile, writeTenantFileAtomic } from './tenant-files.ts';

/** The files WASDI keeps in a processor folder (reference §2, §3), and procenv's registration file. */
export const PACKAGES_INFO = 'packagesInfo.json';
export const ENV_ACTIONS = 'envActionsList.txt';
export const PROCESSOR_JSON = 'processor.json';

/** The size limits of the files procenv reads from a processor folder (tenant input), in bytes. */
export interface FileLimits {
  packagesInfoBytes: number;
  envActionsBytes: number;
  processorJsonBytes: number;
}

export const DEFAULT_LIMITS: FileLimits = {
  packagesInfoBytes: schema['catalog.maxPackagesInfoBytes'].default,
  envActionsBytes: schema['catalog.maxEnvActionsBytes'].default,
  processorJsonBytes: schema['catalog.maxProcessorJsonBytes'].default,
};

/** `<processorsDir>/<name>/`; the name is checked so that no path can leave the processors folder. */
export function processorFolder(processorsDir: string, name: string): string {
  if (!isValidProcessorName(name)) throw new InvalidInputError('INVALID_PROCESSOR_NAME', `"${name.slice(0, 80)}" is not a valid processor name`);
  return join(processorsDir, name);
}

/** The lines of a history, trimmed, empty ones dropped. */
export function historyLines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

/** Deletes envActionsList.txt; a file that is not there is fine (§1.5). */
export async function removeEnvActions(folder: string): Promise<void> {
  await rm(join(folder, ENV_ACTIONS), { force: true });
}

/**
 * Writes a file so that readers see the old content or the new one, never a part (see writeTenantFileAtomic: the
 * temporary file never follows a planted link, and the rename replaces a link at the target, never its target).
 */
export function writeFileAtomic(file: string, content: string): void {
  writeTenantFileAtomic(dirname(file), basename(file), content);
}

/**
 * Reads `processor.json` (WASDI's field names). The folder name is the processor name; a `name` field that
 * differs is an error. Answers the processor or a reason it cannot be registered.
 */
export function readProcessorJson(folder: string, maxBytes = DEFAULT_LIMITS.processorJsonBytes): { processor?: Processor; problem?: string } {
  const folderName = basename(folder);
  const read = readTenantFile(folder, PROCESSOR_JSON, maxBytes, 'catalog.maxProcessorJsonBytes');
  if (read.state === 'missing') return { problem: `${PROCESSOR_JSON} is missing` };
  if (read.state === 'refused') return { problem: read.reason };
  let json: unknown;
  try {
    json = JSON.parse(read.text);
  } catch (err) {
    return { problem: `${PROCESSOR_JSON} cannot be read: ${(err as Error).message}` };
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return { problem: `${PROCESSOR_JSON} is not a JSON object` };
  const o = json as Record<string, unknown>;
  const problems: string[] = [];
  if (!isValidProcessorName(folderName)) problems.push(`folder name "${folderName}" is not a valid processor name`);
  if (typeof o.processorId !== 'string' || o.processorId.trim() === '' || o.processorId.length > 128) problems.push('processorId must be a non-empty string');
  if (o.name !== undefined && o.name !== folderName) problems.push(`name "${String(o.name)}" differs from the folder name "${folderName}"`);
  if (typeof o.type !== 'string' || o.type === '') problems.push('type must be a non-empty string');
  if (typeof o.userId !== 'string' || o.userId === '') problems.push('userId must be a non-empty string');
  const isPublic = o.isPublic === undefined ? true : parseIsPublic(o.isPublic);
  if (isPublic === undefined) problems.push('isPublic must be 0, 1, true or false');
  if (o.python !== undefined && typeof o.python !== 'string') problems.push('python must be a string');
  if (problems.length) return { problem: problems.join('; ') };
  const processor: Processor = {
    processorId: o.processorId as string,
    name: folderName,
    type: o.type as string,
    userId: o.userId as string,
    isPublic: isPublic as boolean,
    source: 'folder',
  };
  if (typeof o.python === 'string') processor.python = o.python;
  return { processor };
}

/** Writes packagesInfo.json atomically in WASDI's Java form (compact, nulls included). */
export function writePackagesInfo(folder: string, javaForm: Record<string, unknown>): void {
  writeFileAtomic(join(folder, PACKAGES_INFO), JSON.stringify(javaForm));
}
