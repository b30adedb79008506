import type { GenerationPackage } from '../../domain/generations.ts';
import { ManagerError } from '../errors.ts';
import { normaliseProjectName } from './pip-index.ts';

/**
 * pip's dry run: `pip install --dry-run --report -` prints an installation report (JSON, pip ≥ 22.2) that lists every
 * distribution pip would install, dependencies included, each with its metadata and whether it was asked for. It
 * names only what would be installed: an upgrade shows the new version alone, so the plan is this list laid over
 * the installed set.
 */
export interface ReportedInstall {
  name: string;
  version: string;
  requested: boolean;
}

/** The distributions of an installation report; throws UNEXPECTED_OUTPUT for anything that is not one. */
export function parseInstallReport(stdout: string): ReportedInstall[] {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    throw new ManagerError('UNEXPECTED_OUTPUT', 'pip install --dry-run --report printed no installation report (not JSON)');
  }
  const install = (doc as { install?: unknown })?.install;
  if (!Array.isArray(install)) throw new ManagerError('UNEXPECTED_OUTPUT', 'pip\'s installation report has no "install" list');
  return install.map((item: unknown) => {
    const metadata = (item as { metadata?: { name?: unknown; version?: unknown } })?.metadata;
    if (typeof metadata?.name !== 'string' || typeof metadata.version !== 'string') {
      throw new ManagerError('UNEXPECTED_OUTPUT', 'an entry of pip\'s installation report has no name or version');
    }
    return { name: metadata.name, version: metadata.version, requested: (item as { requested?: unknown }).requested === true };
  });
}

/** The installed set with a dry run's installs laid over it (an installed package taken by another version). */
export function afterInstall(installed: readonly GenerationPackage[], report: readonly ReportedInstall[]): GenerationPackage[] {
  const set = new Map(installed.map((p) => [normaliseProjectName(p.name), p]));
  for (const r of report) {
    const key = normaliseProjectName(r.name);
    const had = set.get(key);
    // A package asked for stays asked for; one already asked for keeps its mark when it comes again as a dependency.
    const requested = r.requested || had?.requested === true;
    set.set(key, { name: r.name, version: r.version, requested });
  }
  return [...set.values()];
}

/**
 * Run by the venv's own interpreter in isolated mode (`-I`): for each installed distribution, the distributions its
 * `Requires-Dist` needs in this environment (markers evaluated for this interpreter and no extra), as normalised
 * names. It reads the metadata through importlib.metadata and parses it with the packaging copy pip carries, so it
 * needs nothing pip's own environment does not have.
 */
export const DEPENDENCY_SCRIPT = `
import json, re, sys
from importlib import metadata
try:
    from pip._vendor.packaging.requirements import Requirement
except Exception:
    from packaging.requirements import Requirement
def norm(n):
    return re.sub(r"[-_.]+", "-", n).lower()
graph = {}
for dist in metadata.distributions():
    name = dist.metadata["Name"]
    if not name:
        continue
    needs = []
    for text in dist.requires or []:
        try:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
        except Exception:
            continue
        needs.append(norm(req.name))
    graph[norm(name)] = sorted(set(needs))
json.dump(graph, sys.stdout)
`;

/** The dependency script's output as a map; throws UNEXPECTED_OUTPUT when it is not one. */
export function parseDependencies(stdout: string): Map<string, string[]> {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    throw new ManagerError('UNEXPECTED_OUTPUT', 'the installed distributions\' dependencies could not be read (not JSON)');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new ManagerError('UNEXPECTED_OUTPUT', 'the dependency list is not an object');
  const graph = new Map<string, string[]>();
  for (const [name, needs] of Object.entries(doc as Record<string, unknown>)) {
    if (Array.isArray(needs)) graph.set(name, needs.filter((n): n is string => typeof n === 'string'));
  }
  return graph;
}
