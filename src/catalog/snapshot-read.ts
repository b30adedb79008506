import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { isOutdated, mergePackages, parsePackagesInfo, type ManagerVersion } from '../domain/packages.ts';
import { PACKAGES_INFO } from './files.ts';
import { readTenantFile } from './tenant-files.ts';

/** How many packages a snapshot lists, and how many of them have a newer version (the panel's processor list). */
export interface PackageCounts {
  packages: number;
  outdated: number;
}

/** A packagesInfo.json as listPackages answers it: the serialised list, its counts and the manager's version. */
export interface ParsedSnapshot {
  body: Buffer;
  counts: PackageCounts;
  managerVersion?: ManagerVersion;
}

/** Parses, merges and serialises a packagesInfo.json's text (throws UnreadableFileError when it is not valid). */
export function parseSnapshot(text: string): ParsedSnapshot {
  const info = parsePackagesInfo(text);
  const list = mergePackages(info);
  const counts = { packages: list.length, outdated: list.filter(isOutdated).length };
  return { body: Buffer.from(JSON.stringify(list)), counts, ...(info.packageManager ? { managerVersion: info.packageManager } : {}) };
}

/** What the read-ahead worker sends for one processor: its snapshot, or its name alone (the catalog reads it). */
export interface ReadAheadMessage {
  name: string;
  /** The file's identity before the worker read it. */
  key?: string;
  bytes?: Uint8Array;
  counts?: PackageCounts;
  managerVersion?: ManagerVersion;
}

/**
 * A processor's packagesInfo.json read and parsed for the read-ahead (a worker thread): only a regular, readable,
 * well-formed, non-empty file within the limit answers; anything else is undefined and left to the catalog, which
 * reads it itself and reports why. `key` is the file's identity taken before the read.
 */
export function readSnapshot(folder: string, maxBytes: number): (ParsedSnapshot & { key: string }) | undefined {
  const key = fileKey(folder, PACKAGES_INFO);
  const read = readTenantFile(folder, PACKAGES_INFO, maxBytes, 'catalog.maxPackagesInfoBytes');
  if (read.state !== 'ok' || read.text.trim() === '') return undefined;
  try {
    return { key, ...parseSnapshot(read.text) };
  } catch {
    return undefined;
  }
}

/** The identity of a file as lstat sees it (and of its folder), or `-` when it is not there. */
export function fileKey(folder: string, file: string): string {
  try {
    const dir = lstatSync(folder, { bigint: true });
    const st = lstatSync(join(folder, file), { bigint: true });
    return `${dir.ino}:${dir.mode}/${st.dev}:${st.ino}:${st.mode}:${st.size}:${st.mtimeNs}`;
  } catch {
    return '-';
  }
}
