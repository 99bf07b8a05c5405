// Dashboard sessions: a browser that signed in with a token holds a random session id in an
// HttpOnly, SameSite=Strict cookie; the session knows its role and its CSRF token. Sessions are
// kept in the store (controller/store/sessions.ts) for `ttlMs`, so they survive a controller
// restart and every replica on the same database knows them; the store holds only the SHA-256 of
// each id. They are capped in number, the oldest going first.
import { createHash, randomBytes } from 'node:crypto';
import type { Role, SessionGrant } from '../api/auth.js';
import type { StoreMode } from '../store/repository.js';
import type { SessionRepo } from '../store/sessions.js';

export const SESSION_COOKIE = 'bmf_session';

export interface Session extends SessionGrant {
  readonly id: string;
  readonly expiresAt: number;
}

export interface SessionStoreOptions {
  readonly repo: SessionRepo<StoreMode>;
  readonly clock: { now(): number };
  readonly ttlMs?: number;
  readonly max?: number;
}

/** What the store keeps of a session id: its SHA-256, hex. */
export const sessionIdHash = (id: string): string => createHash('sha256').update(id).digest('hex');

/** A session id as the cookie carries it: 32 random bytes, base64url (43 characters). */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export function createSessionStore(opts: SessionStoreOptions) {
  const ttlMs = opts.ttlMs ?? 12 * 3_600_000;
  const max = opts.max ?? 1000;
  return {
    ttlMs,
    async create(role: Role): Promise<Session> {
      const now = opts.clock.now();
      const s: Session = {
        id: randomBytes(32).toString('base64url'),
        csrf: randomBytes(32).toString('base64url'),
        role,
        expiresAt: now + ttlMs,
      };
      await opts.repo.insert(
        { idHash: sessionIdHash(s.id), role, csrf: s.csrf, createdAt: now, expiresAt: s.expiresAt },
        now,
        max,
      );
      return s;
    },
    async get(id: string | undefined): Promise<Session | undefined> {
      if (!id || !SESSION_ID.test(id)) return undefined;
      const s = await opts.repo.get(sessionIdHash(id), opts.clock.now());
      return s ? { id, role: s.role, csrf: s.csrf, expiresAt: s.expiresAt } : undefined;
    },
    async remove(id: string | undefined): Promise<void> {
      if (id && SESSION_ID.test(id)) await opts.repo.remove(sessionIdHash(id));
    },
  };
}
export type SessionStore = ReturnType<typeof createSessionStore>;

/** One cookie's value from a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(value: string, maxAgeS: number, secure: boolean): string {
  return [
    `${SESSION_COOKIE}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${maxAgeS}`,
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}
