import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { Client, type IMessage } from '@stomp/stompjs';
import WebSocket from 'ws';

const run = promisify(execFile);
export const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
export const STOMP_URL = 'ws://127.0.0.1:15674/ws';

async function answers(cmd: string, args: string[], timeoutMs = 20_000): Promise<boolean> {
  return run(cmd, args, { timeout: timeoutMs }).then(() => true, () => false);
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitFor(probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

/**
 * A RabbitMQ broker on 127.0.0.1 with the web-STOMP plugin, as `.ci/run` sets it up: started (and, as root,
 * installed from Debian's packages) when it is missing. Answers why not when it cannot be had; the tests then skip
 * with that reason.
 */
export async function ensureRabbitMq(): Promise<string | undefined> {
  if (await listening(5672) && await listening(15674)) return undefined;
  if (!(await answers('sh', ['-c', 'command -v rabbitmq-server']))) {
    if (process.getuid?.() !== 0) return 'rabbitmq-server is not installed and this user cannot install it (apt-get install -y rabbitmq-server)';
    if (!(await answers('apt-get', ['install', '-y', 'rabbitmq-server'], 300_000))) return 'apt-get install rabbitmq-server failed';
  }
  await answers('rabbitmq-plugins', ['enable', '--offline', 'rabbitmq_web_stomp']);
  if (!(await answers('rabbitmqctl', ['-q', 'status'], 10_000))) await answers('rabbitmq-server', ['-detached']);
  if (!(await waitFor(async () => await listening(5672) && await listening(15674), 60_000))) {
    return 'RabbitMQ did not start (rabbitmq-server -detached; rabbitmqctl -q status)';
  }
  return undefined;
}

/** Stops and starts the broker's application (connections drop, durable exchanges and queues stay). */
export async function stopBroker(): Promise<void> {
  await run('rabbitmqctl', ['-q', 'stop_app'], { timeout: 60_000 });
}
export async function startBroker(): Promise<void> {
  await run('rabbitmqctl', ['-q', 'start_app'], { timeout: 60_000 });
  await waitFor(async () => await listening(5672) && await listening(15674), 60_000);
}

/** A durable topic exchange of the test's own, with a durable queue bound to one routing key, read over AMQP. */
export async function testExchange(name: string, routingKey: string) {
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  await channel.assertExchange(name, 'topic', { durable: true });
  const queue = `${name}.${routingKey}`;
  await channel.assertQueue(queue, { durable: true });
  await channel.bindQueue(queue, name, routingKey);
  await connection.close();
  return {
    /** The messages waiting in the queue, taken out of it. */
    async take(): Promise<any[]> {
      const c = await amqp.connect(AMQP_URL);
      const ch = await c.createChannel();
      const out: any[] = [];
      for (;;) {
        const m = await ch.get(queue, { noAck: true });
        if (!m) break;
        out.push(JSON.parse(m.content.toString()));
      }
      await c.close();
      return out;
    },
    async remove(): Promise<void> {
      const c = await amqp.connect(AMQP_URL).catch(() => undefined);
      if (!c) return;
      const ch = await c.createChannel();
      await ch.deleteQueue(queue).catch(() => undefined);
      await ch.deleteExchange(name).catch(() => undefined);
      await c.close().catch(() => undefined);
    },
  };
}

/**
 * What wasdiClient2 does: STOMP over a web socket to the broker's `/ws`, SUBSCRIBE `/exchange/<exchange>/<workspace>`,
 * and collect the JSON messages.
 */
export async function stompSubscriber(exchange: string, workspace: string) {
  const received: any[] = [];
  const client = new Client({
    brokerURL: STOMP_URL, connectHeaders: { login: 'guest', passcode: 'guest' }, reconnectDelay: 0,
    webSocketFactory: () => new WebSocket(STOMP_URL, ['v12.stomp', 'v11.stomp']),
  });
  await new Promise<void>((resolve, reject) => {
    client.onConnect = () => {
      client.watchForReceipt('subscribed', () => resolve());
      client.subscribe(`/exchange/${exchange}/${workspace}`, (m: IMessage) => received.push(JSON.parse(m.body)), { receipt: 'subscribed' });
    };
    client.onStompError = (frame) => reject(new Error(frame.headers.message));
    client.onWebSocketError = () => reject(new Error('web socket error'));
    client.activate();
  });
  return {
    received,
    async until(predicate: (messages: any[]) => boolean, timeoutMs = 30_000): Promise<any[]> {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > deadline) throw new Error(`not received in time; got ${JSON.stringify(received)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return received;
    },
    close: () => client.deactivate(),
  };
}
