import test from 'ava';
import { createTemplateVenv, type TemplateVenv } from '../helpers/pip-env.ts';
import { PIP_PROCESSOR, startPipService } from '../helpers/pip-service.ts';
import { openEvents } from '../helpers/sse.ts';

// Real pip in a real venv, local wheels: the events of real operations, as a panel following them receives them.
let template: TemplateVenv;
test.before(async () => {
  template = await createTemplateVenv();
});
test.after.always(async () => {
  await template?.remove();
});

test.serial('an operation is told live: queued, running, each command, its log, the new package list, the generation it made, the end', async (t) => {
  const svc = await startPipService(template, [['ev-alpha', '1.0'], ['ev-beta', '2.0']]);
  t.teardown(() => svc.close());
  const client = await openEvents(svc.url, { query: `processor=${PIP_PROCESSOR}`, headers: { 'x-session-token': svc.token } });
  t.teardown(() => client.close());

  const res = await svc.http.post(`processors/${PIP_PROCESSOR}/operations`, {
    headers: { 'x-session-token': svc.token }, json: { commands: ['addPackage/ev-alpha/', 'addPackage/ev-beta/'] },
  });
  const id = JSON.parse(res.body).processObjId as string;
  const events = (await client.until((e) => e.some((x) => x.type === 'operation.ended' && x.operationId === id), 90_000))
    .filter((x) => x.operationId === id);

  const types = events.map((x) => x.type).filter((x) => x !== 'operation.log' && x !== 'operation.progress');
  t.deepEqual(types, [
    'operation.queued', 'operation.running',
    'operation.command', 'operation.command', 'operation.command', 'operation.command',
    'packages.changed', 'generation.recorded', 'operation.ended',
  ]);
  t.true(events.every((x, i) => i === 0 || x.id > events[i - 1].id), 'ids increase');
  const commands = events.filter((x) => x.type === 'operation.command').map((x) => `${x.index}/${x.count} ${x.phase} ${x.command}${x.ok === undefined ? '' : ` ${x.ok}`}`);
  t.deepEqual(commands, [
    '0/2 started addPackage/ev-alpha/', '0/2 finished addPackage/ev-alpha/ true',
    '1/2 started addPackage/ev-beta/', '1/2 finished addPackage/ev-beta/ true',
  ]);
  t.is(events.find((x) => x.type === 'packages.changed').source, 'operation');
  const generation = events.find((x) => x.type === 'generation.recorded').generation;
  t.like(generation, { processorName: PIP_PROCESSOR, cause: 'operation', operationId: id, userId: 'demo' });
  t.regex(generation.hash, /^[0-9a-f]{64}$/);
  const ended = events.at(-1);
  t.is(ended.operation.status, 'DONE');
  t.is(ended.operation.appliedCount, 2);
  t.true(events.some((x) => x.type === 'operation.progress' && x.progressPerc > 0));

  // The log as it streamed is the stored log: every line, in order, with its seq.
  const streamed = events.filter((x) => x.type === 'operation.log').flatMap((x) => x.lines);
  const stored = (await svc.get(`operations/${id}/log`)).body;
  t.deepEqual(streamed.map((l: { seq: number; line: string }) => `${l.seq} ${l.line}`), stored.map((l: { seq: number; line: string }) => `${l.seq} ${l.line}`));
  t.true(streamed.some((l: { line: string }) => /ev-alpha/.test(l.line)));

  // A command that fails: its finish says so, with the error, and the operation ends ERROR.
  const bad = await svc.http.post(`processors/${PIP_PROCESSOR}/operations`, {
    headers: { 'x-session-token': svc.token }, json: { commands: ['upgradePackage/ev-alpha/9.9/'] },
  });
  const badId = JSON.parse(bad.body).processObjId as string;
  const after = (await client.until((e) => e.some((x) => x.type === 'operation.ended' && x.operationId === badId), 90_000)).filter((x) => x.operationId === badId);
  const finished = after.find((x) => x.type === 'operation.command' && x.phase === 'finished');
  t.is(finished.ok, false);
  t.truthy(finished.error?.message);
  t.is(after.at(-1).operation.status, 'ERROR');
});
