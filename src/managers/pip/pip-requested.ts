import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { childrenOf } from '../environment-location.ts';
import { normaliseProjectName } from './pip-index.ts';
import { sitePackagesOf } from './site-packages.ts';

/**
 * Which installed distributions of a venv were asked for by name, and which came in as a dependency. pip writes an
 * empty `REQUESTED` file into the `.dist-info` folder of each distribution named on its command line or in a
 * requirements file (the "Recording installed projects" specification, PEP 376 / 627), and `pip inspect` reports
 * its presence as `requested`. Looking for the file directly answers the same without a pip process, and without
 * `pip inspect`'s whole metadata (READMEs included) going through the operation's log.
 *
 * Answers normalised project name → requested. Distributions without a `.dist-info` (an egg-info from a legacy
 * install) are absent: unknown. Nothing is read: the marker's presence is judged by lstat, so a planted link is
 * never followed.
 */
export function requestedDistributions(venv: string): Map<string, boolean> {
  const requested = new Map<string, boolean>();
  for (const site of sitePackagesOf(venv)) {
    for (const entry of childrenOf(site.path)) {
      if (!entry.endsWith('.dist-info')) continue;
      // `<name>-<version>.dist-info`, the name's own dashes written as `_`: the name ends at the first dash.
      const dash = entry.indexOf('-');
      if (dash <= 0) continue;
      requested.set(normaliseProjectName(entry.slice(0, dash)), hasMarker(join(site.path, entry)));
    }
  }
  return requested;
}

function hasMarker(distInfo: string): boolean {
  try {
    return lstatSync(join(distInfo, 'REQUESTED'), { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false; // a `.dist-info` that is not a folder holds no marker
  }
}
