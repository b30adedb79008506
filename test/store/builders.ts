import test, { type ExecutionContext } from 'ava';
import type { Delivery } from '../../src/domain/cluster.ts';
import { canonicalPackages, generationHash, type GenerationDraft, type GenerationPackage } from '../../src/domain/generations.ts';
import type { Operation } from '../../src/domain/operation.ts';
import type { Processor } from '../../src/domain/processor.ts';
import type { Store } from '../../src/store/types.ts';

/** A fixed clock origin: the store never reads the clock itself, so every time in the suite is explicit. */
export const T0 = 1_700_000_000_000;
export const MAIN = 'wasdi';

export type OpenStore = () => Promise<Store>;

/**
 * Registers one contract test. ava runs a file's tests concurrently, so each test opens its own store (a fresh
 * file or database) and closes it in teardown.
 */
export function storeTest(name: string, open: OpenStore, title: string, body: (t: ExecutionContext, store: Store) => Promise<void>): void {
  test(`${name}: ${title}`, async (t) => {
    const store = await open();
    t.teardown(() => store.close());
    await body(t, store);
  });
}

/** Registers a contract test that this adapter does not pass by design, as skipped, with the reason in its title. */
export function skippedStoreTest(name: string, title: string, reason: string): void {
  test.skip(`${name}: ${title} (skipped: ${reason})`, () => {});
}

export function processor(overrides: Partial<Processor> & Pick<Processor, 'processorId' | 'name'>): Processor {
  return { type: 'python312', userId: 'owner', isPublic: true, ...overrides };
}

/** An ENVIRONMENTUPDATE operation of processor `productName`, created at `operationTimestamp` (default T0). */
export function operation(overrides: Partial<Operation> & Pick<Operation, 'processObjId'>): Operation {
  const productName = overrides.productName ?? 'alpha';
  const at = overrides.operationTimestamp ?? T0;
  return {
    operationType: 'ENVIRONMENTUPDATE',
    processorId: `id-${productName}`,
    productName,
    workspaceId: '-',
    userId: 'owner',
    nodeCode: MAIN,
    status: 'CREATED',
    commands: ['addPackage/numpy/1.26.4'],
    operationTimestamp: at,
    lastStateChangeTimestamp: at,
    progressPerc: 0,
    ...overrides,
  };
}

/** A pending delivery of operation `operationId` to compute node `nodeCode`, created at T0. */
export function delivery(operationId: string, nodeCode: string, overrides: Partial<Delivery> = {}): Delivery {
  return {
    operationId, nodeCode, processorId: 'id-alpha', processorName: 'alpha', commands: ['addPackage/numpy/1.26.4'],
    userId: 'owner', workspaceId: '-', state: 'pending', attempts: 0, nextAttemptAt: T0, deadlineAt: T0 + 3_600_000,
    createdAt: T0, updatedAt: T0, ...overrides,
  };
}

export const pairs = (list: readonly Pick<Delivery, 'operationId' | 'nodeCode'>[]) => list.map((d) => `${d.operationId}@${d.nodeCode}`);

export async function insertAll(store: Store, operations: readonly Operation[]): Promise<void> {
  for (const op of operations) await store.insertOperation(op);
}

export function ids(operations: readonly Pick<Operation, 'processObjId'>[]): string[] {
  return operations.map((o) => o.processObjId);
}

/** A pip package set of `count` packages `pkg-000`…, each at version `1.<n>` unless `versions` says otherwise. */
export function pipPackages(count: number, versions: Record<string, string> = {}): GenerationPackage[] {
  return Array.from({ length: count }, (_, i) => {
    const name = `pkg-${String(i).padStart(3, '0')}`;
    return { name, version: versions[name] ?? `1.${i}`, requested: i % 3 === 0 };
  });
}

/** A generation of processor `processorName` holding `packages`, hashed as procenv hashes them, made at T0. */
export function generationDraft(processorName: string, packages: GenerationPackage[], overrides: Partial<GenerationDraft> = {}): GenerationDraft {
  const kind = overrides.manager?.kind ?? 'pip';
  const sorted = canonicalPackages(kind, packages);
  return {
    processorName, manager: { kind, version: '23.2.1' }, cause: 'operation', operationId: 'op-1', userId: 'owner', at: T0,
    hash: generationHash(kind, sorted), packages: sorted, ...overrides,
  };
}
