import type Database from 'better-sqlite3';

/**
 * The embedded store's tables. Each keeps the record as JSON in `doc` plus the columns it is looked up by, so that
 * the records keep WASDI's field names in both adapters. `user_version` counts the migrations applied.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE users (userId TEXT PRIMARY KEY, doc TEXT NOT NULL);
   CREATE TABLE sessions (sessionId TEXT PRIMARY KEY, userId TEXT NOT NULL, doc TEXT NOT NULL);
   CREATE TABLE processors (processorId TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);
   CREATE TABLE userresourcepermissions (resourceId TEXT NOT NULL, userId TEXT NOT NULL, doc TEXT NOT NULL,
     PRIMARY KEY (resourceId, userId));
   CREATE TABLE nodes (nodeCode TEXT PRIMARY KEY, doc TEXT NOT NULL);
   CREATE TABLE processworkspace (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     processObjId TEXT NOT NULL UNIQUE,
     productName TEXT NOT NULL,
     status TEXT NOT NULL,
     userId TEXT NOT NULL,
     nodeCode TEXT NOT NULL,
     operationTimestamp INTEGER NOT NULL,
     leaseExpiresAt INTEGER,
     idempotencyKey TEXT UNIQUE,
     doc TEXT NOT NULL);
   CREATE INDEX processworkspace_product ON processworkspace (productName, seq);
   CREATE INDEX processworkspace_status ON processworkspace (status, nodeCode, seq);
   CREATE TABLE operationlogs (processObjId TEXT NOT NULL, seq INTEGER NOT NULL, t INTEGER NOT NULL,
     stream TEXT NOT NULL, line TEXT NOT NULL, PRIMARY KEY (processObjId, seq)) WITHOUT ROWID;
   CREATE TABLE deliveries (seq INTEGER PRIMARY KEY AUTOINCREMENT, operationId TEXT NOT NULL, nodeCode TEXT NOT NULL,
     state TEXT NOT NULL, nextAttemptAt INTEGER NOT NULL, doc TEXT NOT NULL, UNIQUE (operationId, nodeCode));
   CREATE INDEX deliveries_due ON deliveries (state, nextAttemptAt);
   CREATE TABLE historyepochs (processorName TEXT PRIMARY KEY, epoch TEXT NOT NULL);
   CREATE TABLE syncstates (processorName TEXT PRIMARY KEY, doc TEXT NOT NULL);`,
  // The event journal: AUTOINCREMENT so that an id is never given twice, also after the newest events were pruned.
  `CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, doc TEXT NOT NULL);
   CREATE INDEX events_at ON events (at);`,
  `CREATE TABLE eventcursors (name TEXT PRIMARY KEY, id INTEGER NOT NULL);`,
  // Generations (store/generation-chain.ts): whole package sets once each, keyed by their content, shared by every
  // generation and processor that has that set; each generation names its set or holds its difference from the one before.
  `CREATE TABLE packagesets (setKey TEXT PRIMARY KEY, packages BLOB NOT NULL);
   CREATE TABLE generations (processorName TEXT NOT NULL, number INTEGER NOT NULL, doc TEXT NOT NULL,
     PRIMARY KEY (processorName, number)) WITHOUT ROWID;`,
  // Holds (domain/holds.ts): one per processor and package key.
  `CREATE TABLE holds (processorName TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (processorName, key)) WITHOUT ROWID;`,
  // Schedules (domain/schedules.ts): a scheduled operation's planned start and the close of its window's opening, as
  // columns the claim filters on (NULL: no schedule, as every operation stored before); maintenance windows by name.
  `ALTER TABLE processworkspace ADD COLUMN notBefore INTEGER;
   ALTER TABLE processworkspace ADD COLUMN notAfter INTEGER;
   CREATE INDEX processworkspace_missed ON processworkspace (nodeCode, notAfter) WHERE status = 'CREATED' AND notAfter IS NOT NULL;
   CREATE TABLE maintenancewindows (name TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID;`,
  // Batches (domain/batches.ts): one row per batch, listed newest first, per user.
  `CREATE TABLE batches (batchId TEXT PRIMARY KEY, userId TEXT NOT NULL, createdAt INTEGER NOT NULL, doc TEXT NOT NULL);
   CREATE INDEX batches_created ON batches (createdAt);
   CREATE INDEX batches_user ON batches (userId, createdAt);`,
  // Ignore rules of the vulnerability audit (domain/audit-ignores.ts), listed oldest first.
  `CREATE TABLE auditignores (id TEXT PRIMARY KEY, createdAt INTEGER NOT NULL, doc TEXT NOT NULL);
   CREATE INDEX auditignores_created ON auditignores (createdAt, id);`,
];

const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the file to this procenv's schema; refuses a file written by a newer one. */
export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new Error(`the store file was written by a newer procenv (schema ${current}, this one knows ${SCHEMA_VERSION})`);
  }
  for (let v = current; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}
