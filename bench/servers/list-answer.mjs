/**
 * listPackages' answer computed from a packagesInfo.json as read from disk, the plain way: the `outdated`,
 * `uptodate` and `all` lists joined, null fields dropped, sorted by name without regard to case (stable), as JSON.
 * The same bytes procenv answers. Plain JavaScript, so that bench/servers/scale-reference.mjs runs without a loader.
 * @param {{ outdated?: object[], uptodate?: object[], all?: object[] }} info
 * @returns {string}
 */
export function listPackagesAnswer(info) {
  const list = [...(info.outdated ?? []), ...(info.uptodate ?? []), ...(info.all ?? [])].map((p) => {
    const out = {};
    for (const [k, v] of Object.entries(p)) if (v !== null) out[k] = v;
    return out;
  });
  const keyed = list.map((pkg, i) => ({ pkg, key: String(pkg.packageName).toLowerCase(), i }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.i - b.i));
  return JSON.stringify(keyed.map((k) => k.pkg));
}
