import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { Cluster, clusterSuite, freePort, procenvCli, waitUntil, type ClusterNode } from '../helpers/cluster.ts';

// Compute nodes against a main node's history they cannot apply as it is: lines that do not parse (written into
// envActionsList.txt by something other than procenv), more lines than one operation takes, and a line whose
// package this node cannot install. Real procenv processes, real pip with local wheels.
const startCluster = clusterSuite([['cn-alpha', '1.0'], ['cn-alpha', '2.0'], ['cn-beta', '0.5'], ['cn-beta', '0.6']]);

const PROXY_SECRET = 'pw-7d1e';

interface LocalOp {
  processObjId: string;
  status: string;
  commands: string[];
  userId: string;
  operationTimestamp: number;
  operationEndTimestamp?: number;
  error?: { message: string };
  sync?: { from: number; to: number };
}

interface NodeView {
  nodeCode: string;
  state: string;
  applied?: number;
  error?: string;
  failing?: { index: number; line: string; message: string; attempts: number; retryAt: number };
  skipped?: { index: number; line: string; reason: string }[];
}

function historyFile(c: Cluster): string {
  return join(c.main.processorsDir, c.pip.name, 'envActionsList.txt');
}

async function catchUps(node: ClusterNode): Promise<LocalOp[]> {
  return ((await node.operations()) as unknown as LocalOp[]).filter((o) => o.userId === 'procenv-sync').reverse();
}

async function viewOf(c: Cluster, code: string): Promise<NodeView & { lines: number }> {
  const v = await c.processorNodes();
  return { ...(v.nodes.find((n) => n.nodeCode === code) as NodeView), lines: v.lines };
}

test.serial('a late node passes over unparsable lines, applies 56 valid ones in operations of at most 50, and backs off from a line it cannot apply', async (t) => {
  t.timeout(600_000);
  const c = await startCluster(t, {
    computeNodes: [],
    // Backoff steps of 6 s, 12 s, 24 s (each a random 50-100 %) so that the gaps are unmistakable; the status view
    // is read often here, so it is not cached.
    env: { PROCENV_CLUSTER_CATCH_UP_RETRY_BASE_SECONDS: '6', PROCENV_CLUSTER_CATCH_UP_RETRY_MAX_SECONDS: '24', PROCENV_CLUSTER_STATUS_CACHE_SECONDS: '0' },
  });
  const marker = join(c.root, 'touched');
  // 56 valid lines, no two neighbours alike (WASDI drops consecutive duplicates); the last two change versions.
  const valid: string[] = [];
  for (let k = 0; k < 28; k++) valid.push('addPackage/cn-alpha/1.0/', 'addPackage/cn-beta/0.5/');
  valid[54] = 'addPackage/cn-alpha/2.0/';
  valid[55] = 'upgradePackage/cn-beta/0.6/';
  const bad = new Map([
    [3, `addPackage/--index-url=http://proxy:${PROXY_SECRET}@127.0.0.1:1/simple/`],
    [30, '../../x'],
    [52, `addPackage/a;touch ${marker}/`],
  ]);
  const lines: string[] = [];
  for (const line of valid) {
    while (bad.has(lines.length)) lines.push(bad.get(lines.length)!);
    lines.push(line);
  }
  t.is(lines.length, 59);
  writeFileSync(historyFile(c), `${lines.join('\n')}\n`);

  const late = c.node('node-c');
  late.port = await freePort();
  await procenvCli(c.main.dataDir, ['node', 'add', 'node-c', `http://127.0.0.1:${late.port}`]);
  await late.addProcessor(c.pip);
  await late.start();

  const converged = await waitUntil('node-c in step with the 59-line history', async () => {
    const v = await viewOf(c, 'node-c');
    return v.state === 'in-step' && v.lines === 59 ? v : undefined;
  }, 400_000, 500);
  const pkgs = await late.installed();
  t.deepEqual([pkgs['cn-alpha'], pkgs['cn-beta']], ['2.0', '0.6'], 'the lines after the unparsable ones were applied');
  t.false(existsSync(marker), 'nothing of an unparsable line ran');
  t.deepEqual(converged.skipped?.map((s) => [s.index, s.line]), [
    [3, 'addPackage/--index-url=http://127.0.0.1:1/simple/'],
    [30, '../../x'],
    [52, `addPackage/a;touch ${marker}/`],
  ]);
  t.deepEqual(converged.skipped?.map((s) => /too many parts|unknown action/.exec(s.reason)?.[0]), ['too many parts', 'unknown action', 'too many parts']);
  // Two operations, in order, each within the limit; together every valid line once.
  const ops = await catchUps(late);
  t.deepEqual(ops.map((o) => [o.status, o.commands.length, o.sync?.from, o.sync?.to]), [['DONE', 50, 0, 52], ['DONE', 6, 52, 59]]);
  t.deepEqual(ops.flatMap((o) => o.commands), valid);
  const skippedLogs = late.logs.filter((l) => l.includes('history line skipped'));
  t.deepEqual(skippedLogs.map((l) => (JSON.parse(l) as { index: number; level: number }).index), [3, 30, 52]);
  t.true(skippedLogs.every((l) => (JSON.parse(l) as { level: number }).level === 40), 'logged as warnings');

  // Two more lines: one this node can apply, then one it cannot (no such package in its wheel folder).
  writeFileSync(historyFile(c), `${[...lines, 'addPackage/cn-alpha/1.0/', 'addPackage/doesnotexist/'].join('\n')}\n`);
  const third = await waitUntil('three failed catch-ups of the missing package', async () => {
    const failed = (await catchUps(late)).filter((o) => o.status === 'ERROR');
    return failed.length >= 3 ? failed : undefined;
  }, 180_000, 500);
  // The first failed catch-up ran both lines; the retries run only the failing one: the line before it applied.
  t.deepEqual(third.map((o) => o.commands), [['addPackage/cn-alpha/1.0/', 'addPackage/doesnotexist/'], ['addPackage/doesnotexist/'], ['addPackage/doesnotexist/']]);
  t.is((await late.installed())['cn-alpha'], '1.0');
  // Backoff: at least half a step (6 s, then 12 s) between the end of a failed catch-up and the next one; before,
  // the next one was queued as soon as the previous ended.
  const gaps = [1, 2].map((k) => third[k]!.operationTimestamp - third[k - 1]!.operationEndTimestamp!);
  t.true(gaps[0]! >= 2_900 && gaps[1]! >= 5_900, `gaps between failed catch-ups: ${gaps.join(', ')} ms`);
  t.log(`gaps between failed catch-ups: ${gaps.join(', ')} ms`);

  const view = await viewOf(c, 'node-c');
  t.is(view.state, 'failing');
  t.is(view.applied, 60);
  t.like(view.failing, { index: 60, line: 'addPackage/doesnotexist/' });
  t.regex(view.failing?.message ?? '', /doesnotexist/i);
  t.true((view.failing?.attempts ?? 0) >= 3);
  t.true((view.failing?.retryAt ?? 0) > third[2]!.operationEndTimestamp!);
  t.regex(view.error ?? '', /line 61/);
  // Over 20 s after the first failure: the first retry and at most one more (old code: one every few seconds).
  const t0 = third[0]!.operationEndTimestamp!;
  await waitUntil('20 s after the first failure', async () => Date.now() > t0 + 20_000, 30_000, 500);
  const inWindow = (await catchUps(late)).filter((o) => o.operationTimestamp > t0 && o.operationTimestamp <= t0 + 20_000);
  t.true(inWindow.length <= 2, `${inWindow.length} catch-ups within 20 s of the first failure`);
  t.log(`${inWindow.length} catch-ups within 20 s of the first failure`);

  // The operator drops the line: the node is in step at once, without running anything again.
  const before = (await catchUps(late)).length;
  writeFileSync(historyFile(c), `${[...lines, 'addPackage/cn-alpha/1.0/'].join('\n')}\n`);
  // (The main node's view says in-step as soon as the line is gone; the node's own state follows at its next sync.)
  const fixed = await waitUntil('node-c in step, nothing failing, once the failing line is gone', async () => {
    const v = await viewOf(c, 'node-c');
    return v.state === 'in-step' && v.lines === 60 && !v.failing && !v.error ? v : undefined;
  }, 60_000, 500);
  t.is(fixed.applied, 60);
  await late.quiet();
  t.is((await catchUps(late)).length, before);
  t.false([c.main, late].some((n) => n.logs.some((l) => l.includes(PROXY_SECRET))), 'the credentials in a skipped line are not logged');
  t.deepEqual(c.nodesLoggingKey(), []);
});
