import { randomUUID } from 'node:crypto';
import test from 'ava';
import { createLogger } from '../../src/logger.ts';
import { startService } from '../../src/main.ts';
import { createTemplateVenv, type TemplateVenv } from '../helpers/pip-env.ts';
import { PIP_PROCESSOR, startPipService, type PipService } from '../helpers/pip-service.ts';
import { AMQP_URL, ensureRabbitMq, startBroker, stompSubscriber, stopBroker, testExchange } from '../helpers/rabbitmq.ts';

// A real RabbitMQ (Debian's rabbitmq-server with rabbitmq_web_stomp on 127.0.0.1), real pip in a real venv, and a
// subscriber that does what wasdiClient2 does. Each test publishes to an exchange of its own.
const unavailable = await ensureRabbitMq();
if (unavailable) console.log(`RabbitMQ tests skipped: ${unavailable}`);
const rabbitTest = unavailable ? test.serial.skip : test.serial;

let template: TemplateVenv;
test.before(async () => {
  if (!unavailable) template = await createTemplateVenv();
});
test.after.always(async () => {
  await template?.remove();
});

const WHEELS: [string, string][] = [['rb-alpha', '1.0']];

async function change(svc: PipService, workspace: string, commands: string[]): Promise<string> {
  const res = await svc.http.post(`processors/${PIP_PROCESSOR}/operations`, { headers: { 'x-session-token': svc.token }, json: { commands, workspace } });
  if (res.statusCode !== 202) throw new Error(`${res.statusCode} ${res.body}`);
  return JSON.parse(res.body).processObjId;
}

rabbitTest('a change made through procenv reaches a STOMP subscriber of its workspace as WASDI\'s messages; a failed one is KO', async (t) => {
  const exchange = `procenv-test-${randomUUID()}`;
  const workspace = 'ws-1';
  const bound = await testExchange(exchange, workspace);
  t.teardown(() => bound.remove());
  const svc = await startPipService(template, WHEELS, { 'rabbitmq.url': AMQP_URL, 'rabbitmq.exchange': exchange });
  t.teardown(() => svc.close());
  const client = await stompSubscriber(exchange, workspace);
  t.teardown(() => client.close());

  const id = await change(svc, workspace, ['addPackage/rb-alpha/']);
  t.is((await svc.waitFor(id)).status, 'DONE');
  const received = await client.until((m) => m.some((x) => x.messageCode === 'ENVIRONMENTUPDATE'));
  t.deepEqual(received.find((x) => x.messageCode === 'ENVIRONMENTUPDATE'), {
    messageCode: 'ENVIRONMENTUPDATE', messageResult: 'OK', payload: `${PIP_PROCESSOR} application<br>Environment Updated`, workspaceId: workspace,
  });
  t.deepEqual(received.filter((x) => x.messageCode === 'UPDATEPROCESSES').map((x) => x.payload), [`${id};CREATED;0`, `${id};RUNNING;0`, `${id};DONE;100`]);
  t.true(received.every((x) => x.workspaceId === workspace));

  const bad = await change(svc, workspace, ['upgradePackage/rb-alpha/9.9/']);
  t.is((await svc.waitFor(bad)).status, 'ERROR');
  const after = await client.until((m) => m.filter((x) => x.messageCode === 'ENVIRONMENTUPDATE').length === 2);
  t.like(after.filter((x) => x.messageCode === 'ENVIRONMENTUPDATE')[1], { messageResult: 'KO', payload: `GURU MEDITATION<br>Error updating ${PIP_PROCESSOR} Environment` });
  t.true(after.every((x) => x.workspaceId === workspace));
  // Everything confirmed: the lag the metrics show is back to nothing.
  const lag = async () => /procenv_rabbitmq_publish_lag_events (\d+)/.exec((await svc.http.get('metrics')).body)?.[1];
  for (const deadline = Date.now() + 10_000; (await lag()) !== '0' && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 100));
  t.is(await lag(), '0');
});

rabbitTest('the broker stopped during a change still gets its message once it is back; a restart after a confirmed publish sends nothing twice', async (t) => {
  t.timeout(180_000);
  const exchange = `procenv-test-${randomUUID()}`;
  const workspace = 'ws-2';
  const bound = await testExchange(exchange, workspace);
  t.teardown(() => bound.remove());
  const overrides = { 'rabbitmq.url': AMQP_URL, 'rabbitmq.exchange': exchange, 'rabbitmq.retryMaxMs': 1000 };
  const svc = await startPipService(template, WHEELS, overrides);
  let restarted: Awaited<ReturnType<typeof startService>> | undefined;
  t.teardown(async () => {
    await restarted?.stop();
    await svc.close();
  });

  await stopBroker();
  let id: string;
  try {
    id = await change(svc, workspace, ['addPackage/rb-alpha/']);
    t.is((await svc.waitFor(id)).status, 'DONE');
  } finally {
    await startBroker();
  }
  let messages: any[] = [];
  for (const deadline = Date.now() + 30_000; Date.now() < deadline && !messages.some((m) => m.messageCode === 'ENVIRONMENTUPDATE');) {
    messages = messages.concat(await bound.take());
    await new Promise((r) => setTimeout(r, 200));
  }
  t.deepEqual(messages.map((m) => `${m.messageCode} ${m.payload}`), [
    `UPDATEPROCESSES ${id};CREATED;0`, `UPDATEPROCESSES ${id};RUNNING;0`, `UPDATEPROCESSES ${id};DONE;100`,
    `ENVIRONMENTUPDATE ${PIP_PROCESSOR} application<br>Environment Updated`,
  ], 'every message, in order, once');

  // Restart on the same store: the confirmed messages are not sent again; the next change is.
  await svc.stop();
  restarted = await startService(svc.config, { log: createLogger('silent'), managerEnv: process.env });
  await restarted.worker.stop();
  const res = await fetch(`${restarted.url}/processors/${PIP_PROCESSOR}/operations`, {
    method: 'POST', headers: { 'x-session-token': svc.token, 'content-type': 'application/json' }, body: JSON.stringify({ commands: [], workspace }),
  });
  const next = (await res.json()).processObjId as string;
  let again: any[] = [];
  for (const deadline = Date.now() + 15_000; Date.now() < deadline && again.length === 0;) {
    again = again.concat(await bound.take());
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 500));
  again = again.concat(await bound.take());
  t.deepEqual(again.map((m) => m.payload), [`${next};CREATED;0`], 'only the new operation\'s message');
});
