import { rmSync } from 'node:fs';
import test from 'ava';
import { ConfigError } from '../../src/config/load.ts';
import { InvalidInputError } from '../../src/domain/errors.ts';
import { parseUpdateCommand } from '../../src/domain/update-command.ts';
import {
  condaFlavourOf, condaSpecOf, createArgs, isValidChannel, listArgs, updateCommandArgs, versionArgs,
} from '../../src/managers/conda/conda-cli.ts';
import { CondaManager } from '../../src/managers/conda/conda-manager.ts';
import { testConfig } from '../helpers/service.ts';

const PREFIX = '/srv/processors/sample_conda/.conda';

test('the flavour comes from the command basename: a name on PATH or a path, with or without .exe', (t) => {
  t.is(condaFlavourOf('conda'), 'conda');
  t.is(condaFlavourOf('/opt/miniforge3/bin/mamba'), 'mamba');
  t.is(condaFlavourOf('/usr/local/bin/micromamba'), 'micromamba');
  t.is(condaFlavourOf('C:\\tools\\micromamba.exe'), 'micromamba');
  t.is(condaFlavourOf('/opt/conda/condabin/conda'), 'conda');
});

test('addPackage installs name=version into the prefix with the configured channels, from an argument array', (t) => {
  const command = parseUpdateCommand('addPackage/numpy/1.26.4/', 'conda');
  t.deepEqual(updateCommandArgs(PREFIX, ['conda-forge', 'file:///srv/channel'], command),
    ['install', '-y', '--json', '-p', PREFIX, '-c', 'conda-forge', '-c', 'file:///srv/channel', 'numpy=1.26.4']);
  t.deepEqual(updateCommandArgs(PREFIX, [], parseUpdateCommand('addPackage/_libgcc_mutex/', 'conda')),
    ['install', '-y', '--json', '-p', PREFIX, '_libgcc_mutex']);
});

test('upgradePackage with a version installs that version; without one it runs update', (t) => {
  t.deepEqual(updateCommandArgs(PREFIX, ['conda-forge'], parseUpdateCommand('upgradePackage/gdal/3.8.4/', 'conda')),
    ['install', '-y', '--json', '-p', PREFIX, '-c', 'conda-forge', 'gdal=3.8.4']);
  t.deepEqual(updateCommandArgs(PREFIX, ['conda-forge'], parseUpdateCommand('upgradePackage/gdal/', 'conda')),
    ['update', '-y', '--json', '-p', PREFIX, '-c', 'conda-forge', 'gdal']);
});

test('removePackage removes by name, without channels', (t) => {
  t.deepEqual(updateCommandArgs(PREFIX, ['conda-forge'], parseUpdateCommand('removePackage/gdal/', 'conda')),
    ['remove', '-y', '--json', '-p', PREFIX, 'gdal']);
});

test('create, list and version arguments', (t) => {
  t.deepEqual(createArgs(PREFIX, ['conda-forge']), ['create', '-y', '--json', '-p', PREFIX, '-c', 'conda-forge', 'python']);
  t.deepEqual(listArgs(PREFIX), ['list', '--json', '-p', PREFIX]);
  t.deepEqual(versionArgs(), ['--version']);
});

test('a name or version that conda could read as an option or a spec operator never becomes an argument', (t) => {
  for (const bad of [{ name: '--override-channels' }, { name: 'numpy>=1' }, { name: 'numpy', version: '>=1.0' }, { name: 'numpy', version: '1.0 *' }]) {
    const err = t.throws(() => condaSpecOf(bad), { instanceOf: InvalidInputError });
    t.is(err?.code, 'INVALID_UPDATE_COMMAND');
  }
});

test('channels that are empty, contain spaces or start with "-" are refused', (t) => {
  t.true(isValidChannel('conda-forge'));
  t.true(isValidChannel('https://mirror.example/conda/main'));
  t.false(isValidChannel(''));
  t.false(isValidChannel('--override-channels'));
  t.false(isValidChannel('conda forge'));
});

test('fromConfig reads conda.command, conda.envDir and conda.channels and resolves the prefix in the processor folder', (t) => {
  const { config, root } = testConfig({ 'conda.command': '/opt/mf/bin/mamba', 'conda.envDir': 'env/conda', 'conda.channels': ['conda-forge'] });
  rmSync(root, { recursive: true, force: true });
  const manager = CondaManager.fromConfig(config, { PATH: '/usr/bin' });
  t.is(manager.flavour, 'mamba');
  t.deepEqual(manager.options.channels, ['conda-forge']);
  t.is(manager.prefixOf({ processor: { processorId: 'p', name: 'x', type: 'conda', userId: 'u', isPublic: false }, folder: '/srv/processors/x' }),
    '/srv/processors/x/env/conda');
});

test('fromConfig refuses an envDir outside the processor folder and a channel that is an option', (t) => {
  const cases = [
    [{ 'conda.envDir': '/opt/shared-env' }, /conda\.envDir/],
    [{ 'conda.envDir': '../other' }, /conda\.envDir/],
    [{ 'conda.channels': ['-c'] }, /conda\.channels/],
  ] as const;
  for (const [overrides, key] of cases) {
    const { config, root } = testConfig(overrides);
    rmSync(root, { recursive: true, force: true });
    t.throws(() => CondaManager.fromConfig(config, {}), { instanceOf: ConfigError, message: key });
  }
});
