import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'ava';
import { parseUpdateCommand } from '../../src/domain/update-command.ts';
import { CondaManager } from '../../src/managers/conda/conda-manager.ts';
import { ManagerError } from '../../src/managers/errors.ts';
import type { Environment } from '../../src/managers/types.ts';

/*
 * The conda manager against a real conda, mamba or micromamba: PROCENV_TEST_CONDA (a name or a path), else the
 * first of micromamba, mamba, conda found on PATH. Skipped, with the reason in its title, when there is none.
 * No network: the packages come from a local file:// channel this test builds (noarch tar.bz2 packages written
 * with Python's tarfile), and the tools run offline with a private HOME and package cache.
 */

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findBinary(): string | undefined {
  const named = process.env.PROCENV_TEST_CONDA;
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  const lookup = (name: string) => (isAbsolute(name) ? (executable(name) ? name : undefined) : dirs.map((d) => join(d, name)).find(executable));
  if (named) return lookup(named);
  for (const name of ['micromamba', 'mamba', 'conda']) {
    const found = lookup(name);
    if (found) return found;
  }
  return undefined;
}

const PYTHON = ['python3', 'python'].find((p) => {
  try {
    execFileSync(p, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});

// Writes a channel with noarch packages: a stand-in `python` (what `create … python` asks for) and procenv-demo 1.0.0/2.0.0.
const BUILD_CHANNEL = String.raw`
import hashlib, io, json, os, sys, tarfile, time
channel = sys.argv[1]
now = int(time.time())
for sub in ('noarch', 'linux-64', 'linux-aarch64', 'osx-64', 'osx-arm64', 'win-64'):
    os.makedirs(os.path.join(channel, sub), exist_ok=True)
    with open(os.path.join(channel, sub, 'repodata.json'), 'w') as f:
        json.dump({'info': {'subdir': sub}, 'packages': {}, 'packages.conda': {}, 'repodata_version': 1}, f)
records = {}
def build(name, version, files):
    fn = '%s-%s-0.tar.bz2' % (name, version)
    index = {'name': name, 'version': version, 'build': '0', 'build_number': 0, 'depends': [], 'noarch': 'generic',
             'subdir': 'noarch', 'license': 'MIT', 'timestamp': now * 1000}
    paths = {'paths_version': 1, 'paths': [{'_path': p, 'path_type': 'hardlink', 'sha256': hashlib.sha256(c).hexdigest(),
             'size_in_bytes': len(c)} for p, c in files.items()]}
    members = {'info/index.json': json.dumps(index).encode(), 'info/paths.json': json.dumps(paths).encode(),
               'info/files': ''.join(p + '\n' for p in files).encode()}
    members.update(files)
    path = os.path.join(channel, 'noarch', fn)
    with tarfile.open(path, 'w:bz2') as tar:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            info.mtime = now
            tar.addfile(info, io.BytesIO(data))
    raw = open(path, 'rb').read()
    record = dict(index)
    record.update({'md5': hashlib.md5(raw).hexdigest(), 'sha256': hashlib.sha256(raw).hexdigest(), 'size': len(raw)})
    records[fn] = record
build('python', '3.99.0', {'share/procenv-e2e/python.txt': b'stand-in python for an offline test channel\n'})
build('procenv-demo', '1.0.0', {'share/procenv-demo/VERSION': b'1.0.0\n'})
build('procenv-demo', '2.0.0', {'share/procenv-demo/VERSION': b'2.0.0\n'})
with open(os.path.join(channel, 'noarch', 'repodata.json'), 'w') as f:
    json.dump({'info': {'subdir': 'noarch'}, 'packages': records, 'packages.conda': {}, 'repodata_version': 1}, f)
`;

const binary = findBinary();
const CALL_TIMEOUT_MS = 5 * 60_000;

if (binary === undefined) {
  test.skip('conda end-to-end: no conda, mamba or micromamba binary on this machine (PROCENV_TEST_CONDA names one)', () => {});
} else if (PYTHON === undefined) {
  test.skip('conda end-to-end: no python to build the local test channel', () => {});
} else {
  test(`conda end-to-end with ${binary}: create, install, upgrade, remove and list from a local channel`, async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'procenv-conda-e2e-'));
    try {
      const channel = join(root, 'channel');
      execFileSync(PYTHON, ['-c', BUILD_CHANNEL, channel], { stdio: 'pipe' });
      const home = join(root, 'home');
      mkdirSync(home);
      const folder = join(root, 'processors', 'e2e_conda');
      mkdirSync(folder, { recursive: true });
      const env: Environment = { processor: { processorId: 'e2e', name: 'e2e_conda', type: 'conda', userId: 'demo', isPublic: false }, folder };
      const manager = new CondaManager({
        command: binary,
        envDir: '.conda',
        channels: [pathToFileURL(channel).href],
        env: {
          PATH: process.env.PATH ?? '',
          HOME: home,
          // Offline: remote channels from a system-wide condarc are not contacted; file:// channels still work.
          CONDA_OFFLINE: 'true',
          MAMBA_OFFLINE: 'true',
          CONDA_PKGS_DIRS: join(root, 'pkgs'),
          MAMBA_ROOT_PREFIX: join(root, 'mamba-root'),
        },
      });
      const ctx = { timeoutMs: CALL_TIMEOUT_MS, onLine: (stream: string, line: string) => t.log(`${stream}: ${line.slice(0, 200)}`) };

      const version = await manager.version(env, ctx);
      t.is(version.name, manager.flavour);
      t.true(version.major > 0 || version.minor > 0);

      const demo = async () => (await manager.snapshot(env, ctx)).all?.find((p) => p.packageName === 'procenv-demo');
      await manager.apply(env, [parseUpdateCommand('addPackage/procenv-demo/1.0.0/', 'conda')], ctx);
      t.true(manager.hasEnvironment(env));
      t.like(await demo(), { managerName: 'conda', currentVersion: '1.0.0', currentBuild: '0' });

      await manager.apply(env, [parseUpdateCommand('upgradePackage/procenv-demo/', 'conda')], ctx);
      t.is((await demo())?.currentVersion, '2.0.0');

      await manager.apply(env, [parseUpdateCommand('removePackage/procenv-demo/', 'conda')], ctx);
      t.is(await demo(), undefined);

      const err = await t.throwsAsync(manager.apply(env, [parseUpdateCommand('addPackage/procenv-no-such-package/', 'conda')], ctx), { instanceOf: ManagerError });
      t.is(err?.code, 'COMMAND_FAILED');
      t.regex(err?.message ?? '', /procenv-no-such-package/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
}
