import { MongoClient, type Db } from 'mongodb';
import { ComposedStore } from '../composed-store.ts';
import { MongoAccounts } from './accounts.ts';
import { MongoAuditIgnores } from './audit-ignores.ts';
import { MongoClusterRecords } from './cluster-records.ts';
import { type Collections, collectionsOf, ensureIndexes } from './collections.ts';
import { MongoEventJournal } from './event-journal.ts';
import { MongoGenerations } from './generations.ts';
import { MongoBatches } from './batches.ts';
import { MongoHolds } from './holds.ts';
import { MongoOperations } from './operations.ts';
import { MongoProcessors } from './processors.ts';
import { MongoWindows } from './windows.ts';
import { withUnavailableErrors } from './unavailable.ts';

/**
 * The MongoDB store: WASDI's own collections (users, sessions, userresourcepermissions in accounts.ts; processors
 * in processors.ts; nodes; processworkspace in operations.ts) plus procenv's own: operationlogs,
 * operationlogcounters (operations.ts), processorlocks (operation-claims.ts), nodedeliveries, historyepochs,
 * syncstates (cluster-records.ts), events, eventcounters (event-journal.ts), generations, packagesets (generations.ts), packageholds (holds.ts),
 * packagebatches (batches.ts), maintenancewindows (windows.ts), auditignores (audit-ignores.ts).
 * It is the adapter a WASDI installation shares with procenv, and the one several procenv processes can share among
 * themselves. It needs no transactions (so a standalone server does), only single-document atomicity and unique
 * indexes.
 */
export class MongoStore extends ComposedStore {
  readonly kind = 'mongodb' as const;

  private constructor(private readonly client: MongoClient, readonly db: Db, c: Collections) {
    const journal = new MongoEventJournal(c);
    super({
      accounts: new MongoAccounts(c),
      processors: new MongoProcessors(c),
      operations: new MongoOperations(c, journal),
      cluster: new MongoClusterRecords(c, journal),
      events: journal,
      generations: new MongoGenerations(c, journal),
      holds: new MongoHolds(c),
      batches: new MongoBatches(c),
      windows: new MongoWindows(c),
      auditIgnores: new MongoAuditIgnores(c),
    });
  }

  /** Connects, creates the indexes the adapter relies on (idempotent), and answers the store. */
  static async connect(url: string, dbName: string): Promise<MongoStore> {
    if (!url) throw new Error('the mongodb store needs a connection string (MONGODB_URL)');
    // ignoreUndefined: an absent optional field must stay absent, never become null (the sparse key index needs it).
    const client = new MongoClient(url, { ignoreUndefined: true });
    try {
      await client.connect();
      const db = client.db(dbName);
      const c = collectionsOf(db);
      await ensureIndexes(c);
      return withUnavailableErrors(new MongoStore(client, db, c));
    } catch (err) {
      await client.close().catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
