import { UnauthenticatedError } from '../domain/errors.ts';
import type { Caller } from '../domain/user.ts';
import type { Store } from '../store/types.ts';

const TOUCH_AFTER_MS = 60_000;

/**
 * WASDI's `getUserFromSession` on procenv's store (reference §8): the token names a session, the session a user.
 * A session unused for longer than the idle limit expires; lastTouch is refreshed at most once a minute.
 */
export class SessionService {
  private readonly store: Store;
  private readonly idleMs: number;
  private readonly now: () => number;

  constructor(options: { store: Store; sessionIdleMinutes: number; now?: () => number }) {
    this.store = options.store;
    this.idleMs = options.sessionIdleMinutes * 60_000;
    this.now = options.now ?? Date.now;
  }

  async authenticate(token: string | undefined): Promise<Caller> {
    if (!token || token.length > 256) throw new UnauthenticatedError();
    const session = await this.store.findSession(token);
    if (!session) throw new UnauthenticatedError();
    const now = this.now();
    if (now - session.lastTouch > this.idleMs) {
      await this.store.removeSession(token);
      throw new UnauthenticatedError('the session has expired');
    }
    const user = await this.store.findUser(session.userId);
    if (!user) throw new UnauthenticatedError();
    if (now - session.lastTouch > TOUCH_AFTER_MS) await this.store.touchSession(token, now);
    return { userId: user.userId, admin: user.role === 'ADMIN' };
  }
}
