import type { Delivery } from '../../src/domain/cluster.ts';
import { eventOf, type EventDraft, type ProcenvEvent } from '../../src/domain/events.ts';
import type { Operation, OperationLogLine } from '../../src/domain/operation.ts';
import type { Emit, Store } from '../../src/store/types.ts';
import { type OpenStore, MAIN, T0, delivery, operation, pairs, skippedStoreTest, storeTest } from './builders.ts';

export interface EventContractOptions {
  /**
   * Why this store journals a write's events right after the write instead of in the write's own transaction; the
   * tests that a change and its events are one transaction are then skipped with this reason.
   */
  eventsAfterWrite?: string;
}

function draft(overrides: Partial<EventDraft> = {}): EventDraft {
  return { type: 'packages.changed', at: T0, processor: 'alpha', data: { source: 'disk' }, ...overrides };
}

/** Every event in the journal, oldest first. */
const journal = (store: Store): Promise<ProcenvEvent[]> => store.readEvents(0, 10_000);

const operationEvent = (type: EventDraft['type']): Emit<Operation> => (op) => [{
  type, at: op.lastStateChangeTimestamp, processor: op.productName, operationId: op.processObjId, data: { operation: op },
}];

const logEvent: Emit<OperationLogLine[]> = (lines) => [{ type: 'operation.log', at: T0, processor: 'alpha', operationId: 'op-1', data: { lines } }];

const deliveryEvent = (d: Delivery): EventDraft => ({
  type: 'delivery.changed', at: d.updatedAt, processor: d.processorName, operationId: d.operationId, data: { nodeCode: d.nodeCode, state: d.state },
});

const failingEmit = (): never => {
  throw new Error('emit failed');
};

/** The event journal: ids, reading, bounds, pruning, and the events that record writes emit. */
export function eventContract(name: string, open: OpenStore, options: EventContractOptions = {}): void {
  storeTest(name, open, 'an event cursor is undefined until saved, then the last id saved, per name', async (t, store) => {
    t.is(await store.findEventCursor('rabbitmq'), undefined);
    await store.saveEventCursor('rabbitmq', 7);
    await store.saveEventCursor('rabbitmq', 9);
    await store.saveEventCursor('other', 1);
    t.is(await store.findEventCursor('rabbitmq'), 9);
    t.is(await store.findEventCursor('other'), 1);
  });

  storeTest(name, open, 'appended events are read back in id order, with increasing ids and the fields of eventOf', async (t, store) => {
    t.deepEqual(await journal(store), []);
    const drafts = [
      draft({ type: 'operation.command', at: T0 + 1, operationId: 'op-1', data: { index: 0, count: 1, command: 'addPackage/numpy', phase: 'started' } }),
      draft({ at: T0 + 2 }),
      draft({ type: 'operation.progress', at: T0 + 3, processor: 'beta', operationId: 'op-2', data: { progressPerc: 50 } }),
    ];
    await store.appendEvents(drafts.slice(0, 2));
    await store.appendEvents([]);
    await store.appendEvents(drafts.slice(2));
    const events = await journal(store);
    t.is(events.length, 3);
    t.true(events.every((e, i) => i === 0 || e.id > events[i - 1]!.id), 'ids increase');
    t.deepEqual(events, drafts.map((d, i) => eventOf(events[i]!.id, d)));
    t.false('operationId' in events[1]!, 'no operationId key when the draft has none');
    t.deepEqual(await store.readEvents(events[0]!.id, 1), [events[1]!]);
    t.deepEqual(await store.readEvents(0, 2), events.slice(0, 2));
    t.deepEqual(await store.readEvents(events[2]!.id, 10), []);
    t.deepEqual(await store.readEvents(0, 0), []);
  });

  storeTest(name, open, 'eventBounds answers the first id kept and the last id given; undefined and 0 while nothing was journaled', async (t, store) => {
    t.deepEqual(await store.eventBounds(), { first: undefined, last: 0 });
    await store.appendEvents([draft(), draft(), draft()]);
    const [first, , last] = await journal(store);
    t.deepEqual(await store.eventBounds(), { first: first!.id, last: last!.id });
  });

  storeTest(name, open, 'pruneEvents keeps the newest `keep` events and answers how many went', async (t, store) => {
    await store.appendEvents([0, 1, 2, 3, 4].map((i) => draft({ at: T0 + i })));
    const before = await journal(store);
    t.is(await store.pruneEvents(2, 0), 3);
    t.deepEqual(await journal(store), before.slice(3));
    t.deepEqual(await store.eventBounds(), { first: before[3]!.id, last: before[4]!.id });
    t.is(await store.pruneEvents(2, 0), 0);
  });

  storeTest(name, open, 'pruneEvents drops the events older than olderThan, and both limits at once', async (t, store) => {
    await store.appendEvents([0, 10, 20, 30, 40].map((d) => draft({ at: T0 + d })));
    const before = await journal(store);
    t.is(await store.pruneEvents(100, T0 + 20), 2);
    t.deepEqual((await journal(store)).map((e) => e.at), [T0 + 20, T0 + 30, T0 + 40]);
    // Two kept by count (30, 40), of which one is older than T0 + 35.
    t.is(await store.pruneEvents(2, T0 + 35), 2);
    t.deepEqual(await journal(store), before.slice(4));
  });

  storeTest(name, open, 'an id is never given twice, also after the newest events were pruned', async (t, store) => {
    await store.appendEvents([draft(), draft(), draft()]);
    const pruned = await journal(store);
    t.is(await store.pruneEvents(0, 0), 3);
    t.deepEqual(await store.eventBounds(), { first: undefined, last: pruned[2]!.id });
    await store.appendEvents([draft({ at: T0 + 1 })]);
    const [next, ...more] = await journal(store);
    t.deepEqual(more, []);
    t.true(next!.id > pruned[2]!.id);
    t.deepEqual(await store.eventBounds(), { first: next!.id, last: next!.id });
  });

  storeTest(name, open, 'insertOperation and updateOperation journal what they emit; an update from another status journals nothing', async (t, store) => {
    const queued = operation({ processObjId: 'op-1', idempotencyKey: 'k-1' });
    await store.insertOperation(queued, operationEvent('operation.queued'));
    // The key already used answers the first operation: nothing new, no event.
    t.false((await store.insertOperation(operation({ processObjId: 'op-2', idempotencyKey: 'k-1' }), operationEvent('operation.queued'))).created);
    t.is(await store.updateOperation('op-1', ['RUNNING'], { status: 'DONE' }, operationEvent('operation.ended')), undefined);
    const stopped = await store.updateOperation('op-1', ['CREATED'], { status: 'STOPPED', lastStateChangeTimestamp: T0 + 9 }, operationEvent('operation.ended'));
    const events = await journal(store);
    t.deepEqual(events.map((e) => [e.type, e.operationId, e.at]), [['operation.queued', 'op-1', T0], ['operation.ended', 'op-1', T0 + 9]]);
    t.deepEqual(events.map((e) => e.operation), [queued, stopped]);
    t.is(stopped?.status, 'STOPPED');
  });

  storeTest(name, open, 'claimNextOperation journals what it emits for the claimed operation, and nothing when none is claimable', async (t, store) => {
    t.is(await store.claimNextOperation(MAIN, 'w1', T0 + 60_000, T0, operationEvent('operation.running')), undefined);
    await store.insertOperation(operation({ processObjId: 'op-1' }));
    const claimed = await store.claimNextOperation(MAIN, 'w1', T0 + 60_000, T0 + 5, operationEvent('operation.running'));
    t.is(await store.claimNextOperation(MAIN, 'w2', T0 + 60_000, T0 + 6, operationEvent('operation.running')), undefined);
    const events = await journal(store);
    t.deepEqual(events.map((e) => [e.type, e.operationId, e.at]), [['operation.running', 'op-1', T0 + 5]]);
    t.deepEqual(events[0]!.operation, claimed);
    t.is(claimed?.status, 'RUNNING');
  });

  storeTest(name, open, 'appendOperationLog journals the lines it stored, each with its seq', async (t, store) => {
    await store.appendOperationLog('op-1', [{ t: T0, stream: 'stdout', line: 'a' }, { t: T0 + 1, stream: 'stderr', line: 'b' }], logEvent);
    await store.appendOperationLog('op-1', [], logEvent);
    await store.appendOperationLog('op-1', [{ t: T0 + 2, stream: 'procenv', line: 'c' }], logEvent);
    const events = await journal(store);
    const stored = await store.readOperationLog('op-1');
    t.deepEqual(events.map((e) => e.lines), [stored.slice(0, 2), stored.slice(2)]);
    t.deepEqual(stored.map((l) => l.seq), [1, 2, 3]);
  });

  storeTest(name, open, 'insertDeliveries journals only the deliveries it inserted; an existing pair emits nothing', async (t, store) => {
    const emit: Emit<Delivery[]> = (inserted) => inserted.map(deliveryEvent);
    await store.insertDeliveries([delivery('op-1', 'n1'), delivery('op-1', 'n2')], emit);
    await store.insertDeliveries([delivery('op-1', 'n1', { state: 'failed' }), delivery('op-2', 'n1')], emit);
    await store.insertDeliveries([delivery('op-1', 'n2')], emit);
    const events = await journal(store);
    t.deepEqual(pairs(events.map((e) => ({ operationId: e.operationId!, nodeCode: e.nodeCode as string }))), ['op-1@n1', 'op-1@n2', 'op-2@n1']);
    t.true(events.every((e) => e.type === 'delivery.changed' && e.state === 'pending'));
  });

  storeTest(name, open, 'updateDelivery journals what it emits; an update from another state journals nothing', async (t, store) => {
    await store.insertDeliveries([delivery('op-1', 'n1')]);
    t.is(await store.updateDelivery('op-1', 'n1', ['delivered'], { state: 'applied' }, (d) => [deliveryEvent(d)]), undefined);
    t.deepEqual(await journal(store), []);
    const delivered = await store.updateDelivery('op-1', 'n1', ['pending'], { state: 'delivered', attempts: 1, updatedAt: T0 + 5 }, (d) => [deliveryEvent(d)]);
    const events = await journal(store);
    t.deepEqual(events, [eventOf(events[0]!.id, deliveryEvent(delivered!))]);
    t.is(events[0]!.state, 'delivered');
  });

  const oneTransaction = 'a write whose emit function throws leaves neither the change nor an event';
  const unstorable = 'a write whose events cannot all be journaled keeps neither the change nor the events before the failing one';
  if (options.eventsAfterWrite !== undefined) {
    skippedStoreTest(name, oneTransaction, options.eventsAfterWrite);
    skippedStoreTest(name, unstorable, options.eventsAfterWrite);
    return;
  }

  storeTest(name, open, oneTransaction, async (t, store) => {
    const failed = { message: 'emit failed' };
    await t.throwsAsync(store.insertOperation(operation({ processObjId: 'op-0' }), failingEmit), failed);
    t.is(await store.findOperation('op-0'), undefined);

    const queued = operation({ processObjId: 'op-1' });
    await store.insertOperation(queued);
    await t.throwsAsync(store.updateOperation('op-1', ['CREATED'], { status: 'STOPPED' }, failingEmit), failed);
    t.deepEqual(await store.findOperation('op-1'), queued);
    await t.throwsAsync(store.claimNextOperation(MAIN, 'w1', T0 + 60_000, T0, failingEmit), failed);
    t.deepEqual(await store.findOperation('op-1'), queued, 'still CREATED, so still claimable');

    await t.throwsAsync(store.appendOperationLog('op-1', [{ t: T0, stream: 'stdout', line: 'lost' }], failingEmit), failed);
    t.deepEqual(await store.readOperationLog('op-1'), []);

    await t.throwsAsync(store.insertDeliveries([delivery('op-1', 'n1')], failingEmit), failed);
    t.deepEqual(await store.listDeliveries({}), []);
    await store.insertDeliveries([delivery('op-1', 'n1')]);
    await t.throwsAsync(store.updateDelivery('op-1', 'n1', ['pending'], { state: 'delivered' }, failingEmit), failed);
    t.is((await store.listDeliveries({}))[0]?.state, 'pending');

    t.deepEqual(await journal(store), []);
    t.deepEqual(await store.eventBounds(), { first: undefined, last: 0 });
    // The failed writes held nothing back: the same writes without the failing emit go through.
    t.is((await store.claimNextOperation(MAIN, 'w1', T0 + 60_000, T0))?.processObjId, 'op-1');
  });

  storeTest(name, open, unstorable, async (t, store) => {
    const queued = operation({ processObjId: 'op-1' });
    await store.insertOperation(queued);
    // The first draft can be stored; the second fails as the store reads it.
    const unreadable = draft({ data: { get size(): number { throw new Error('unstorable draft'); } } });
    const halfStorable: Emit<Operation> = (op) => [...operationEvent('operation.ended')(op), unreadable];
    await t.throwsAsync(store.updateOperation('op-1', ['CREATED'], { status: 'STOPPED' }, halfStorable), { message: 'unstorable draft' });
    t.deepEqual(await store.findOperation('op-1'), queued);
    t.deepEqual(await journal(store), []);
    t.deepEqual(await store.eventBounds(), { first: undefined, last: 0 }, 'no id was used up');
  });
}
