import type { Logger } from 'pino';
import { StoreUnavailableError, UnauthenticatedError } from '../domain/errors.ts';
import { CLUSTER_KEY_HEADER, keysMatch, ORIGIN_OPERATION_HEADER, parseRunOptions, parseVia, RUN_OPTIONS_HEADER, USER_HEADER, VIA_HEADER } from '../nodes/cluster-headers.ts';
import type { Caller } from '../domain/user.ts';
import type { Store } from '../store/types.ts';

/** lastTouch is written at most this often, and more often for short idle limits (see `touchAfterMs`). */
const TOUCH_AFTER_MS = 60_000;
/**
 * A session found valid is trusted for this long without asking the store again (listPackages is the web panel's
 * hot read; three store lookups per request were a third of its cost). A session removed from the store by another
 * process is therefore still accepted for up to this long; one that expires is refused at once.
 */
const CACHE_MS = 1_000;
const CACHE_MAX = 10_000;

/**
 * WASDI's `getUserFromSession` on procenv's store (reference §8): the token names a session, the session a user.
 * A session unused for longer than the idle limit expires. This process counts idleness from the session's last use
 * it saw; the store's lastTouch (what other processes on the store see) is written when it is older than a tenth of
 * the idle limit (at most once a minute), so a session in use never expires here and expires at most that tenth early
 * in another process.
 */
export class SessionService {
  private readonly store: Store;
  private readonly idleMs: number;
  private readonly now: () => number;
  private readonly clusterKey: string;
  private readonly touchAfterMs: number;
  /** Per token: the caller, the session's last use seen here, and when the store was last asked. */
  private readonly cache = new Map<string, { caller: Caller; lastUse: number; checkedAt: number }>();
  private readonly log?: Logger;

  constructor(options: { store: Store; sessionIdleMinutes: number; clusterKey?: string; now?: () => number; log?: Logger }) {
    this.store = options.store;
    this.log = options.log;
    this.idleMs = options.sessionIdleMinutes * 60_000;
    this.clusterKey = options.clusterKey ?? '';
    this.now = options.now ?? Date.now;
    this.touchAfterMs = Math.min(TOUCH_AFTER_MS, Math.floor(this.idleMs / 10));
  }

  /**
   * A request's caller: a node-to-node call with the cluster key (acting for the user it names, with every
   * right, since the main node checked them), or a user session. A wrong cluster key is a 401, never a fallback.
   */
  authenticateRequest(header: (name: string) => string): Caller | Promise<Caller> {
    const key = header(CLUSTER_KEY_HEADER);
    if (key) {
      try {
        return this.clusterCaller(key, header);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const token = header('x-session-token');
    // A session checked within the cache's second is answered without a promise (listPackages' hot path).
    return this.knownCaller(token) ?? this.authenticate(token || undefined);
  }

  private clusterCaller(key: string, header: (name: string) => string): Caller {
    if (!this.clusterKey || !keysMatch(key, this.clusterKey)) throw new UnauthenticatedError('the cluster key is not valid here');
    const user = header(USER_HEADER);
    const origin = header(ORIGIN_OPERATION_HEADER);
    const options = parseRunOptions(header(RUN_OPTIONS_HEADER));
    return {
      userId: user && user.length <= 200 ? user : 'procenv-cluster',
      admin: true,
      internal: { via: parseVia(header(VIA_HEADER)), ...(origin ? { originOperationId: origin } : {}), ...(Object.keys(options).length ? { options } : {}) },
    };
  }

  /** The caller of a session found valid within the cache's second and not idle too long; undefined otherwise. */
  private knownCaller(token: string): Caller | undefined {
    const cached = this.cache.get(token);
    if (!cached) return undefined;
    const now = this.now();
    if (now - cached.checkedAt >= CACHE_MS || now - cached.lastUse > this.idleMs) return undefined;
    cached.lastUse = now;
    return cached.caller;
  }

  async authenticate(token: string | undefined): Promise<Caller> {
    if (!token || token.length > 256) throw new UnauthenticatedError();
    const known = this.knownCaller(token);
    if (known) return known;
    const now = this.now();
    const cached = this.cache.get(token);
    let session, user;
    try {
      session = await this.store.findSession(token);
      user = session && (await this.store.findUser(session.userId));
    } catch (err) {
      // A store that cannot answer does not log out a user it knew a moment ago: reads go on from the cache.
      if (err instanceof StoreUnavailableError && cached && now - cached.lastUse <= this.idleMs) {
        cached.lastUse = now;
        return cached.caller;
      }
      throw err;
    }
    if (!session) {
      this.cache.delete(token);
      throw new UnauthenticatedError();
    }
    // Another process may have used (and touched) the session since this one last did, or this one since the store
    // was last written: the later of the two counts.
    const lastUse = Math.max(session.lastTouch, cached?.lastUse ?? 0);
    if (now - lastUse > this.idleMs) {
      this.cache.delete(token);
      this.inBackground(this.store.removeSession(token), 'expired session not removed');
      throw new UnauthenticatedError('the session has expired');
    }
    if (!user) throw new UnauthenticatedError();
    // Not awaited: a request never waits for a write that only keeps the session alive (the store may be busy).
    if (now - session.lastTouch > this.touchAfterMs) this.inBackground(this.store.touchSession(token, now), 'session touch not stored');
    const caller: Caller = { userId: user.userId, admin: user.role === 'ADMIN' };
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(token, { caller, lastUse: now, checkedAt: now });
    return caller;
  }

  private inBackground(write: Promise<void>, message: string): void {
    write.catch((err) => this.log?.warn({ code: (err as { code?: unknown }).code }, message));
  }
}
