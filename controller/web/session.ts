// Dashboard sessions: a browser that signed in with a token holds a random session id in an
// HttpOnly, SameSite=Strict cookie; the session knows its role and its CSRF token. Sessions live
// in memory for `ttlMs` (a controller restart signs everyone out) and are capped in number, the
// oldest going first.
import { randomBytes } from 'node:crypto';
import type { Role, SessionGrant } from '../api/auth.js';

export const SESSION_COOKIE = 'bmf_session';

export interface Session extends SessionGrant {
  readonly id: string;
  readonly expiresAt: number;
}

export interface SessionStoreOptions {
  readonly clock: { now(): number };
  readonly ttlMs?: number;
  readonly max?: number;
}

export function createSessionStore(opts: SessionStoreOptions) {
  const ttlMs = opts.ttlMs ?? 12 * 3_600_000;
  const max = opts.max ?? 1000;
  const sessions = new Map<string, Session>();
  return {
    ttlMs,
    create(role: Role): Session {
      const s: Session = {
        id: randomBytes(32).toString('base64url'),
        csrf: randomBytes(32).toString('base64url'),
        role,
        expiresAt: opts.clock.now() + ttlMs,
      };
      sessions.set(s.id, s);
      while (sessions.size > max) sessions.delete(sessions.keys().next().value as string);
      return s;
    },
    get(id: string | undefined): Session | undefined {
      if (!id) return undefined;
      const s = sessions.get(id);
      if (s && s.expiresAt <= opts.clock.now()) {
        sessions.delete(id);
        return undefined;
      }
      return s;
    },
    remove(id: string | undefined): void {
      if (id) sessions.delete(id);
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
