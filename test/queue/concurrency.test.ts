import test from 'ava';
import type { Operation } from '../../src/domain/operation.ts';
import { createTemplateVenv, type TemplateVenv } from '../helpers/pip-env.ts';
import { PIP_PROCESSOR, PIP_PROCESSOR_ID, startPipService } from '../helpers/pip-service.ts';

let template: TemplateVenv;
test.before(async () => {
  template = await createTemplateVenv();
});
test.after.always(async () => {
  await template?.remove();
});

test('50 concurrent environmentupdate requests on one processor are all recorded and run one at a time, in order, with listPackages never empty', async (t) => {
  t.timeout(600_000);
  const svc = await startPipService(template, [['pe-beta', '0.5'], ['pe-gamma', '3.1']], { 'queue.concurrency': 4 });
  try {
    // The first change makes the real snapshot; from then on the list must never be empty.
    t.is((await svc.waitFor(await svc.update('addPackage/pe-beta/'))).status, 'DONE');
    let watching = true;
    const seen: { status: number; count: number }[] = [];
    const watcher = (async () => {
      while (watching) {
        const res = await svc.http.get('packageManager/listPackages', { headers: { 'x-session-token': svc.token }, searchParams: { name: PIP_PROCESSOR } });
        seen.push({ status: res.statusCode, count: res.statusCode === 200 ? (JSON.parse(res.body) as unknown[]).length : -1 });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const commands = Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? 'addPackage/pe-gamma/' : 'addPackage/pe-beta/'));
    const answers = await Promise.all(commands.map((updateCommand) => svc.http.get('packageManager/environmentupdate', {
      headers: { 'x-session-token': svc.token }, searchParams: { processorId: PIP_PROCESSOR_ID, workspace: '-', updateCommand },
    })));
    t.true(answers.every((a) => a.statusCode === 200), 'every request is accepted');
    const ids = answers.map((a) => (JSON.parse(a.body) as { processObjId: string }).processObjId);
    t.is(new Set(ids).size, 50, 'every request has its own operation');
    const ops: Operation[] = [];
    for (const id of ids) ops.push(await svc.waitFor(id, 400_000));
    watching = false;
    await watcher;
    t.true(ops.every((op) => op.status === 'DONE'), JSON.stringify(ops.filter((o) => o.status !== 'DONE').map((o) => o.error)));
    // In the order received: the store lists newest first (creation time, then insertion order, which breaks the
    // ties of requests received in the same millisecond), so its reverse is the arrival order. Each operation must
    // start after the one before it ended.
    const stored = await svc.store.listOperations({ processorName: PIP_PROCESSOR, limit: 1000 });
    const finished = new Map(ops.map((op) => [op.processObjId, op]));
    const byArrival = [...stored].reverse().map((op) => finished.get(op.processObjId)).filter((op) => op !== undefined);
    t.is(byArrival.length, 50);
    for (let i = 1; i < byArrival.length; i++) {
      const prev = byArrival[i - 1]!;
      const cur = byArrival[i]!;
      t.true(cur.operationStartTimestamp! >= prev.operationEndTimestamp!, `operation ${i} started before operation ${i - 1} ended`);
    }
    t.is(stored.length, 51, 'none lost: the first change and the 50');
    t.true(seen.length > 10, 'the list was read while the operations ran');
    t.deepEqual(seen.filter((s) => s.status !== 200 || s.count === 0), [], 'listPackages never failed nor answered empty');
  } finally {
    await svc.close();
  }
});
