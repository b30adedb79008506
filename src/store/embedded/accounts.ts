import type { Session, Sharing, User } from '../../domain/user.ts';
import type { AccountStore } from '../types.ts';
import { type SqliteContext, parse, parseAll } from './context.ts';

/** Users, sessions and sharings in the embedded store (tables users, sessions, userresourcepermissions). */
export class SqliteAccounts implements AccountStore {
  private readonly stmts;

  constructor(private readonly ctx: SqliteContext) {
    const db = ctx.db;
    this.stmts = {
      saveUser: db.prepare('INSERT INTO users (userId, doc) VALUES (?, ?) ON CONFLICT (userId) DO UPDATE SET doc = excluded.doc'),
      findUser: db.prepare('SELECT doc FROM users WHERE userId = ?').pluck(),
      saveSession: db.prepare('INSERT INTO sessions (sessionId, userId, doc) VALUES (?, ?, ?) ON CONFLICT (sessionId) DO UPDATE SET userId = excluded.userId, doc = excluded.doc'),
      findSession: db.prepare('SELECT doc FROM sessions WHERE sessionId = ?').pluck(),
      touchSession: db.prepare("UPDATE sessions SET doc = json_set(doc, '$.lastTouch', ?) WHERE sessionId = ?"),
      removeSession: db.prepare('DELETE FROM sessions WHERE sessionId = ?'),
      saveSharing: db.prepare('INSERT INTO userresourcepermissions (resourceId, userId, doc) VALUES (?, ?, ?) ON CONFLICT (resourceId, userId) DO UPDATE SET doc = excluded.doc'),
      findSharing: db.prepare('SELECT doc FROM userresourcepermissions WHERE resourceId = ? AND userId = ?').pluck(),
      listSharings: db.prepare('SELECT doc FROM userresourcepermissions WHERE resourceId = ? ORDER BY userId').pluck(),
    };
  }

  async saveUser(user: User): Promise<void> {
    await this.ctx.write(() => this.stmts.saveUser.run(user.userId, JSON.stringify(user)));
  }
  async findUser(userId: string): Promise<User | undefined> {
    return this.ctx.read(() => parse(this.stmts.findUser.get(userId)));
  }

  async saveSession(session: Session): Promise<void> {
    await this.ctx.write(() => this.stmts.saveSession.run(session.sessionId, session.userId, JSON.stringify(session)));
  }
  async findSession(sessionId: string): Promise<Session | undefined> {
    return this.ctx.read(() => parse(this.stmts.findSession.get(sessionId)));
  }
  async touchSession(sessionId: string, at: number): Promise<void> {
    await this.ctx.write(() => this.stmts.touchSession.run(at, sessionId));
  }
  async removeSession(sessionId: string): Promise<void> {
    await this.ctx.write(() => this.stmts.removeSession.run(sessionId));
  }

  async saveSharing(sharing: Sharing): Promise<void> {
    await this.ctx.write(() => this.stmts.saveSharing.run(sharing.resourceId, sharing.userId, JSON.stringify(sharing)));
  }
  async findSharing(resourceId: string, userId: string): Promise<Sharing | undefined> {
    return this.ctx.read(() => parse(this.stmts.findSharing.get(resourceId, userId)));
  }
  async listSharings(resourceId: string): Promise<Sharing[]> {
    return this.ctx.read(() => parseAll(this.stmts.listSharings.all(resourceId)));
  }
}
