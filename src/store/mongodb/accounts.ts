import type { Session, Sharing, User } from '../../domain/user.ts';
import type { AccountStore } from '../types.ts';
import { type Collections, NO_ID, toSession, toSharing, toUser } from './collections.ts';

/** Users, sessions and sharings on MongoDB: WASDI's users, sessions and userresourcepermissions. */
export class MongoAccounts implements AccountStore {
  constructor(private readonly c: Collections) {}

  async saveUser(user: User): Promise<void> {
    await this.c.users.updateOne({ userId: user.userId }, { $set: { userId: user.userId, role: user.role } }, { upsert: true });
  }
  async findUser(userId: string): Promise<User | undefined> {
    const doc = await this.c.users.findOne({ userId }, { projection: { _id: 0, userId: 1, role: 1 } });
    return doc ? toUser(doc) : undefined;
  }

  async saveSession(session: Session): Promise<void> {
    const { sessionId, userId, loginDate, lastTouch } = session;
    await this.c.sessions.updateOne({ sessionId }, { $set: { sessionId, userId, loginDate, lastTouch } }, { upsert: true });
  }
  async findSession(sessionId: string): Promise<Session | undefined> {
    const doc = await this.c.sessions.findOne({ sessionId }, { projection: NO_ID });
    return doc ? toSession(doc) : undefined;
  }
  async touchSession(sessionId: string, at: number): Promise<void> {
    await this.c.sessions.updateOne({ sessionId }, { $set: { lastTouch: at } });
  }
  async removeSession(sessionId: string): Promise<void> {
    await this.c.sessions.deleteOne({ sessionId });
  }

  async saveSharing(sharing: Sharing): Promise<void> {
    const { resourceType, resourceId, userId } = sharing;
    await this.c.sharings.updateOne({ resourceType, resourceId, userId }, { $set: { ...sharing } }, { upsert: true });
  }
  async findSharing(resourceId: string, userId: string): Promise<Sharing | undefined> {
    const doc = await this.c.sharings.findOne({ resourceType: 'processor', resourceId, userId }, { projection: NO_ID });
    return doc ? toSharing(doc) : undefined;
  }
  async listSharings(resourceId: string): Promise<Sharing[]> {
    const docs = await this.c.sharings.find({ resourceType: 'processor', resourceId }, { sort: { userId: 1 }, projection: NO_ID }).toArray();
    return docs.map(toSharing);
  }
}
