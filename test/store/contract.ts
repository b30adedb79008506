import type { Store } from '../../src/store/types.ts';
import { auditIgnoreContract } from './contract-audit-ignores.ts';
import { claimContract } from './contract-claims.ts';
import { clusterContract } from './contract-cluster.ts';
import { type EventContractOptions, eventContract } from './contract-events.ts';
import { generationContract } from './contract-generations.ts';
import { holdContract } from './contract-holds.ts';
import { logContract } from './contract-logs.ts';
import { operationContract } from './contract-operations.ts';
import { recordContract } from './contract-records.ts';
import { scheduleContract } from './contract-schedules.ts';

/**
 * The store contract: the ava tests every adapter of `src/store/types.ts` must pass. `open` must answer a fresh,
 * empty store each call (tests in a file run concurrently, and each test opens its own); tests close it.
 * Titles are prefixed with `name`, so one file can run the suite for several adapters.
 */
export function storeContract(name: string, open: () => Promise<Store>, options: EventContractOptions = {}): void {
  recordContract(name, open);
  operationContract(name, open);
  claimContract(name, open);
  logContract(name, open);
  clusterContract(name, open);
  eventContract(name, open, options);
  generationContract(name, open);
  holdContract(name, open);
  scheduleContract(name, open);
  auditIgnoreContract(name, open);
}
